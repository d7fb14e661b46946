"""Training across the world: an emulated wide-area link under the trainer's collectives
(``link.py``), the analytic model of the wait it causes (``model.py``), and the
measurement loop that runs sync methods over the link (``measure.py``)."""
