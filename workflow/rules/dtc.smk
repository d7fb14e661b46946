# dtc: rules added by its issue; empty until then.
