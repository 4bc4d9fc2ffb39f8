"""The Fashion-MNIST landscape zoo and report (docs/landscape/, scripts/landscape.py).

The zoo's catalog entries load offline and sample; each entry's scores name their protocol and are
the committed study results' numbers; findings.md and the study reports are regenerated from the
committed results (docs/landscape/study.db), never typed in.
"""
import csv
import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import landscape  # noqa: E402
import landscape_findings  # noqa: E402


@pytest.fixture(scope="module")
def zoo():
    """The shipped zoo catalog (ganhub/catalogs/fashion_mnist.json)."""
    return json.loads(landscape.ZOO_CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def committed():
    """{study: (spec, labels, {label: [Record]})} from docs/landscape/study.db."""
    return landscape.collect_all(landscape.SNAPSHOT)


def _trial(committed, entry):
    study = entry["scores"]["fid"]["protocol"]["study"]
    spec, labels, records = committed[study["name"]]
    return next(r for r in records[study["variant"]] if r.number == study["trial"])


def test_zoo_ships_a_model_per_finished_variant(committed, zoo):
    from ganhub.study.results import best
    names = {e["name"] for e in zoo["models"]}
    expected = {landscape.zoo_name(arch, label)
                for name, _, arch, _ in landscape.STUDIES
                for label in committed[name][1]
                if best([r for r in committed[name][2][label] if r.module]) is not None}
    assert expected, "the committed study has no finished trial"
    assert names == expected
    # every folder in the zoo is an entry (no stale models shipped)
    folders = {p.name for p in landscape.ZOO_DIR.iterdir() if p.is_dir()}
    assert folders == {e["handle"][len(landscape.ZOO_HANDLE):] for e in zoo["models"]}


@pytest.mark.slow
def test_zoo_entries_load_offline_and_sample(monkeypatch, zoo):
    import ganhub
    from ganhub import catalog
    monkeypatch.setenv("GANHUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("the zoo must load without the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    listed = {e["name"] for e in catalog.list_models(dataset="fashion_mnist")}
    for entry in zoo["models"]:
        assert entry["name"] in listed
        generator = ganhub.load(entry["name"])
        images = np.asarray(generator.sample(6, seed=1))
        assert images.shape == (6, 32, 32, 1)
        assert images.dtype == np.uint8
        assert images.std() > 2.0   # not a constant image
        # same seed, same images
        np.testing.assert_array_equal(generator.sample(6, seed=1), images)
        config = generator.metadata["training"]["config"]
        arch, loss, penalty, d_norm = entry["name"].split("/", 1)[1].split("-")
        assert (config["architecture"], config["loss"], config["penalty"], config["d_norm"]) == (
            arch, loss, penalty, d_norm)


def test_zoo_scores_name_their_protocol_and_are_the_committed_results(committed, zoo):
    from ganhub import catalog
    from ganhub.describe import summarize_protocol
    spec = committed[landscape.STUDIES[0][0]][0]
    for entry in zoo["models"]:
        scores = entry["scores"]
        assert set(scores) == {"fid", "kid"}
        for metric, score in scores.items():
            protocol = score["protocol"]
            assert protocol["num_samples"] == spec["scoring"]["num_samples"] == 2000
            assert protocol["reference"] == "fashion_mnist_32-test"
            assert protocol["extractor"] == "fid_inception_offline"
            assert protocol["resize"] == "legacy"
            assert protocol["metrics"] == ["fid", "kid"]
            assert score["source"] == "measured"
            # what `ganhub info` and model cards print for it
            assert summarize_protocol(protocol) == (
                "2000 generated vs fashion_mnist_32-test, resize legacy, seed 0")
        assert catalog.get_entry(entry["name"])["installed"] is True
        trial = _trial(committed, entry)
        assert scores["fid"]["value"] == trial.value
        assert scores["kid"]["value"] == trial.also["kid"]
        assert scores["fid"]["protocol"]["checkpoint_scores"] == trial.checkpoint_scores
        assert min(trial.checkpoint_scores.values()) == trial.value


def test_findings_are_generated_from_the_committed_results(committed):
    text = (landscape.DOCS / "findings.md").read_text(encoding="utf-8")
    assert text == landscape_findings.render(committed)


def test_study_reports_are_the_committed_results(committed):
    from ganhub.study.results import best
    for name, _, _, folder in landscape.STUDIES:
        spec, labels, records = committed[name]
        with open(landscape.DOCS / folder / "best.csv", newline="") as f:
            rows = {row["variant"]: row for row in csv.DictReader(f)}
        for label in labels:
            b = best(records[label])
            if b is None:
                assert label not in rows or not rows[label].get("trial")
                continue
            assert int(rows[label]["trial"]) == b.number
            assert float(rows[label]["fid"]) == pytest.approx(b.value, rel=1e-9)


def test_findings_wait_for_complete_grids():
    """A comparison is only made when every variant it compares finished its grid."""
    spec = {"grid": [{}, {}], "seeds": [0]}

    class R:
        def __init__(self, value, number):
            self.state, self.phase, self.value, self.number = "COMPLETE", "search", value, number
            self.setting, self.also, self.seconds = {"lr": number}, {"kid": 0.01}, 60.0

    full = {f"{loss}-{p}-{n}": [R(10.0 + i, 0), R(20.0 + i, 1)]
            for i, loss in enumerate(("ns", "ls", "wgan"))
            for p in ("none", "wgan_gp") for n in ("none", "spectral_norm")}
    s = {label: landscape_findings.summary(spec, rs) for label, rs in full.items()}
    text = "\n".join(landscape_findings.finding_losses(s))
    # NS has the lowest median (15 < 16 < 17) in each of the three groups
    assert "NS 15, LS 16, WGAN 17" in text and "**holds** at this scale" in text
    s["ls-none-none"] = landscape_findings.summary(spec, full["ls-none-none"][:1])
    text = "\n".join(landscape_findings.finding_losses(s))
    assert "not enough trials yet: 1 of the 18 grid trials" in text
    assert "holds" not in text


def test_list_shows_the_sample_count_beside_each_score():
    """`ganhub list` puts the zoo's 2k-sample FIDs beside the default's 10k one: it says so."""
    from ganhub.cli.hub import _score
    entry = {"scores": {"fid": {"value": 21.734, "protocol": {"num_samples": 2000}},
                        "kid": {"value": 0.012345, "protocol": {"num_samples": 2500}}}}
    assert _score(entry, "fid") == "21.73 @2k"
    assert _score(entry, "kid", digits=4) == "0.0123 @2500"
    assert _score({"scores": {"fid": {"value": 34.29, "protocol": "FID, 3k vs 3k"}}}, "fid") == "34.29"
    assert _score({"scores": {"fid": 30.0}}, "fid") == "30.00"
    assert _score({}, "kid") == "-"
