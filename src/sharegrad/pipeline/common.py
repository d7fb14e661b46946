"""What every rule file shares (workflow/rules/common.smk): where a config's results and figures go,
and every name the config gives, checked against the registries before any job starts.

The schema (experiments/schema.yaml) checks the shape and the values it can know;
the names of models, attacks, defenses, sync methods and attack settings live in
the plug-in registries, so they are checked here, by the Snakefile, right after
the schema. Each problem names the field and the valid choices; all are reported
at once. Image and text models (and attacks) are kept apart: a stage is offered
only its own.
"""

from __future__ import annotations

import importlib

from sharegrad.errors import UserError

IMAGE, TEXT = "image", "text"


def results_root(config: dict) -> str:
    """Where a config's runs, records and aggregated CSVs go."""
    return f"results/{config['name']}"


def figures_root(config: dict) -> str:
    """Where a config's figures and tables go: a folder of its own below the top-level figures/, so two
    configs never share one."""
    return f"figures/{config['name']}"


def model_names(modality: str) -> list[str]:
    from sharegrad.models import MODELS

    return [name for name in MODELS.names() if getattr(MODELS.get(name), "modality", IMAGE) == modality]


# the configs' name of a SyncOptions field where the two differ
SYNC_OPTION_ALIASES = {"powersgd_rank": "rank"}


def sync_method_takes(method: str, key: str) -> bool:
    """Whether the registered sync method reads the config option ``key`` (a SyncOptions field, or its alias):
    read off the method's own ``options=`` declaration (sync/__init__.py), so a new method needs no list here."""
    from sharegrad.sync import sync_method_options

    return SYNC_OPTION_ALIASES.get(key, key) in sync_method_options(method)


def attack_modality(attack) -> str:
    """What an attack reconstructs, as it declares (``register_attack(name, modality="text")``); image if it does not."""
    return getattr(attack, "modality", IMAGE)


def attack_names(modality: str) -> list[str]:
    from sharegrad.attacks import ATTACKS

    return [name for name in ATTACKS.names() if attack_modality(ATTACKS.get(name)) == modality]


def settings_validator(attack):
    """The attack's own check of its settings: ``attack.validate``; else the settings it declares
    (``register_attack(name, settings={...})``: name -> default; with its cell settings, the only keys it
    takes) and its module's ``resolve``, whichever it has; or None."""
    validate = getattr(attack, "validate", None)
    if validate is not None:
        return validate
    resolve = getattr(importlib.import_module(attack.__module__), "resolve", None)
    declared = getattr(attack, "settings", None)
    if declared is None:
        return resolve
    known = set(declared) | set(getattr(attack, "cell_settings", None) or {})

    def check(values: dict) -> None:
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        if resolve is not None:
            resolve(values)

    return check


def _unknown(field: str, value, choices: list[str], kind: str) -> str:
    return f"{field}: unknown {kind} {value!r}; choose one of {', '.join(choices)}"


def _check_values(field: str, values, choices: list[str], kind: str) -> list[str]:
    return [_unknown(field, value, choices, kind) for value in values if value not in choices]


def _attack_settings_problems(field: str, settings: dict, attacks: list[str]) -> list[str]:
    from sharegrad.attacks import ATTACKS

    problems = []
    for name, values in settings.items():
        if name not in attacks:
            problems.append(_unknown(f"{field}.{name}", name, attacks, "attack"))
            continue
        validate = settings_validator(ATTACKS.get(name))
        if validate is not None:
            try:
                validate(dict(values))
            except UserError as exc:
                problems.append(f"{field}.{name}: {exc}")
    return problems


def _image_grid_problems(field: str, grids: list[dict], models: list[str], attacks: list[str],
                         defenses: list[str]) -> list[str]:
    problems = []
    for i, spec in enumerate(grids):
        where = f"{field}[{i}]"
        problems += _check_values(f"{where}.model", spec.get("model", []), models, "image model")
        problems += _check_values(f"{where}.attack", spec.get("attack", []), attacks, "image attack")
        from sharegrad.pipeline.dlg import CELL_SETTINGS, attack_cell_settings

        for attack in [a for a in spec.get("attack", []) if a in attacks]:
            takes = attack_cell_settings(attack)
            for key in CELL_SETTINGS:
                if key in spec and key not in takes:
                    problems.append(f"{where}.{key}: attack {attack} takes no {key} (its cell settings: "
                                    f"{', '.join(sorted(takes)) or 'none'}); give {key} in a grid of its own")
        problems += _check_values(f"{where}.defense", spec.get("defense", []), defenses, "defense")
    return problems


def _figure_cell_problems(field: str, figures: dict, models: list[str], attacks: list[str],
                          defenses: list[str]) -> list[str]:
    """A figure's cell filter names a model, attack or defense: check those too."""
    problems = []
    for name, options in figures.items():
        if not isinstance(options, dict):
            continue
        for key, choices, kind in (("model", models, "model"), ("attack", attacks, "attack"),
                                   ("defense", defenses, "defense")):
            if key in options and options[key] not in choices:
                problems.append(_unknown(f"{field}.{name}.{key}", options[key], choices, kind))
    return problems


def name_problems(config: dict) -> list[str]:
    from sharegrad.defenses import DEFENSES
    from sharegrad.sync import SYNC_METHODS
    from sharegrad.train.models import TRAIN_MODELS

    image_models, text_models = model_names(IMAGE), model_names(TEXT)
    image_attacks, text_attacks = attack_names(IMAGE), attack_names(TEXT)
    defenses, sync_methods, train_models = DEFENSES.names(), SYNC_METHODS.names(), TRAIN_MODELS.names()
    problems = []

    dlg = config["dlg"]
    problems += _image_grid_problems("dlg.grids", dlg["grids"], image_models, image_attacks, defenses)
    problems += _attack_settings_problems("dlg.attack_settings", dlg.get("attack_settings", {}), image_attacks)
    reconstructions = dlg.get("figures", {}).get("reconstructions", {})
    problems += _figure_cell_problems("dlg.figures.reconstructions", reconstructions, image_models, image_attacks,
                                      defenses)
    for name in reconstructions:
        if not str(name).replace("_", "").isalnum():
            problems.append(f"dlg.figures.reconstructions: figure name {name!r} goes into a file name; "
                            "use letters, digits and _")

    if "defenses" in config:
        section = config["defenses"]
        problems += _image_grid_problems("defenses.grids", section["grids"], image_models, image_attacks, defenses)
        problems += _figure_cell_problems("defenses.figures", section.get("figures", {}), image_models,
                                          image_attacks, defenses)

    if "text" in config:
        section = config["text"]
        for i, spec in enumerate(section["grids"]):
            where = f"text.grids[{i}]"
            problems += _check_values(f"{where}.model", spec.get("model", []), text_models, "text model")
            problems += _check_values(f"{where}.attack", spec.get("attack", []), text_attacks, "text attack")
            problems += _check_values(f"{where}.defense", spec.get("defense", []), defenses, "defense")
        problems += _attack_settings_problems("text.attack_settings", section.get("attack_settings", {}),
                                              text_attacks)
        problems += _figure_cell_problems("text.figures", section.get("figures", {}), text_models, text_attacks,
                                          defenses)

    if "dtc" in config:
        section = config["dtc"]
        for name, setup in section["setups"].items():
            if setup["model"] not in train_models:
                problems.append(_unknown(f"dtc.setups.{name}.model", setup["model"], train_models, "training model"))
        for i, spec in enumerate(section["runs"]):
            problems += _check_values(f"dtc.runs[{i}].method", spec.get("method", []), sync_methods, "sync method")
            problems += _check_values(f"dtc.runs[{i}].defense", spec.get("defense", []), defenses, "defense")
            problems += _check_values(f"dtc.runs[{i}].setup", spec.get("setup", []), sorted(section["setups"]),
                                      "setup (of dtc.setups)")

    if "wan" in config:
        section = config["wan"]
        if section["setup"]["model"] not in train_models:
            problems.append(_unknown("wan.setup.model", section["setup"]["model"], train_models, "training model"))
        for i, spec in enumerate(section["methods"]):
            problems += _check_values(f"wan.methods[{i}].method", [spec["method"]], sync_methods, "sync method")
    return problems


def check_names(config: dict) -> None:
    """Raise one UserError listing every unknown name in ``config`` (the config has passed the schema)."""
    problems = name_problems(config)
    if problems:
        raise UserError("the config names what no registry holds:\n  " + "\n  ".join(problems))


def _field(path) -> str:
    """A config location as the config spells it: ``dlg.grids[0].line_search``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _schema_problem(error) -> str:
    """One line per schema error: the field, the value and what is allowed (never the schema itself)."""
    where, value, schema = _field(error.absolute_path), error.instance, error.schema
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if error.validator == "enum":
        return f"{where}: {shown} is not allowed; choose one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(value) - set(allowed))
        return f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{where}: {error.message.split(' is a required property')[0]} is required"
    if error.validator == "type":
        return f"{where}: {shown} is not of type {error.validator_value}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[error.validator]
        return f"{where}: {shown} must be {bound} {error.validator_value}"
    if error.validator == "pattern":
        return f"{where}: {shown} does not match {error.validator_value}"
    if error.validator in ("minItems", "minProperties"):
        return f"{where}: must not be empty"
    return f"{where}: {error.message.splitlines()[0][:200]}"


def _fill_defaults(config, schema) -> None:
    """The schema's ``default`` of every absent property, in the objects the config has."""
    if not isinstance(config, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = sub["default"]
        if key in config:
            _fill_defaults(config[key], sub)


def validate_config(config: dict, schema_path) -> dict:
    """Check ``config`` against the schema (experiments/schema.yaml) and fill in its defaults.

    Every problem is one line naming the field, the value and the allowed values, all of them in
    one UserError (jsonschema's own message prints the schema of the field, up to hundreds of lines)."""
    from pathlib import Path

    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        # an error inside an anyOf/oneOf names its best-matching branch only
        error = jsonschema.exceptions.best_match([error]) if error.context else error
        problems.append(_schema_problem(error))
    if problems:
        raise UserError("the config does not fit experiments/schema.yaml:\n  " + "\n  ".join(dict.fromkeys(problems)))
    _fill_defaults(config, schema)
    return config
