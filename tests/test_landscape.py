"""The Fashion-MNIST landscape zoo and report (docs/landscape/, scripts/landscape.py).

The zoo's catalog entries load offline and sample; each entry's scores name their protocol and are
the committed study results' numbers; findings.md and the study reports are regenerated from the
committed results (docs/landscape/study.db), never typed in.
"""
import csv
import json
import re
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
        assert generator.name == entry["name"]  # the name it was loaded by, not the trial's
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
    from ganhub import catalog, describe
    spec = committed[landscape.STUDIES[0][0]][0]
    for entry in zoo["models"]:
        scores = entry["scores"]
        assert set(scores) == {"fid", "kid"}
        for metric, score in scores.items():
            # trials run before 2026-12-07 recorded the spec's fields (a reference name, an
            # extractor id); later ones evaluate's protocol (the reference's provenance, sha256s)
            protocol = score["protocol"]
            assert protocol["num_samples"] == spec["scoring"]["num_samples"] == 2000
            ref = describe.protocol_reference(protocol)
            assert (ref["dataset"], ref["split"], ref["num_samples"]) == (
                "fashion_mnist_32", "test", 2000)   # the study's first 2,000 test images
            assert describe.protocol_extractor(protocol) == "fid_inception_offline"
            assert protocol["resize"] == "legacy"
            assert protocol["metrics"] == ["fid", "kid"]
            assert score["source"] == "measured"
            # what `ganhub info` and model cards print for it
            assert re.fullmatch(r"2,000 generated vs 2,000 fashion_mnist_32 test images, "
                                r"fid_inception_offline( \(7ff4a85c3a63\))?, resize legacy, "
                                r"seed 0(, KID blocks 2)?", describe.summarize_protocol(protocol))
        assert catalog.get_entry(entry["name"])["installed"] is True
        trial = _trial(committed, entry)
        assert scores["fid"]["value"] == trial.value
        assert scores["kid"]["value"] == trial.also["kid"]
        assert scores["fid"]["protocol"]["checkpoint_scores"] == trial.checkpoint_scores
        assert min(trial.checkpoint_scores.values()) == trial.value


def test_findings_are_generated_from_the_committed_results(committed):
    text = (landscape.DOCS / "findings.md").read_text(encoding="utf-8")
    assert text == landscape_findings.render(committed, *landscape.extras())


def test_readme_quotes_the_committed_zoo_against_default_measurement():
    vs = json.loads((landscape.DOCS / "vs_default.json").read_text(encoding="utf-8"))
    readme = " ".join((landscape.ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (f"`{vs['zoo']['name']}`, scores FID {vs['zoo']['fid']:.2f} at 10k against the "
            f"default's {vs['default']['fid']:.2f}") in readme


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


def test_reports_state_lambda_only_with_a_penalty_and_no_machine_paths():
    """The grid sets penalty_lambda for every variant; the report's setting column shows it only
    where a penalty uses it. The committed files name the live folder as $LANDSCAPE_LIVE."""
    for _, _, _, folder in landscape.STUDIES:
        text = (landscape.DOCS / folder / "report.md").read_text(encoding="utf-8")
        for csv_name in ("best.csv", "trials.csv"):
            shipped = (landscape.DOCS / folder / csv_name).read_text(encoding="utf-8")
            assert "/work/" not in shipped and "/tmp/" not in shipped, csv_name
        assert "/work/" not in text and "/tmp/" not in text   # no machine's path
        table = text[text.index("## Best model per variant"):text.index("## Search trials")]
        rows = [line for line in table.splitlines() if line.startswith("| ns-")]
        assert rows
        for row in rows:
            penalty = row.split(" | ")[0].split("-")[1]
            assert ("penalty_lambda=" in row) == (penalty != "none"), row


class _R:
    """A finished search trial as findings.summary reads it."""

    def __init__(self, value, setting, train=60.0):
        self.state, self.phase, self.value, self.number = "COMPLETE", "search", value, setting
        self.setting, self.also, self.seconds = {"lr": setting}, {"kid": 0.01}, 90.0
        self.timings, self.module = {"train": train}, None


def _loss_study(spec):
    # variant i of (ns, ls, wgan) scores 10 + i at setting 0 and 20 + i at setting 1
    full = {f"{loss}-{p}-{n}": [_R(10.0 + i, 0), _R(20.0 + i, 1)]
            for i, loss in enumerate(("ns", "ls", "wgan"))
            for p in ("none", "wgan_gp") for n in ("none", "spectral_norm")}
    return full, {label: landscape_findings.summary(spec, rs) for label, rs in full.items()}


def test_findings_compare_variants_on_the_settings_all_of_them_finished():
    spec = {"grid": [{}, {}], "seeds": [0]}
    full, s = _loss_study(spec)
    text = "\n".join(landscape_findings.finding_losses(s))
    # NS has the lowest median (15 < 16 < 17) in each of the three groups
    assert "NS 15, LS 16, WGAN 17" in text and "**holds** at this scale" in text
    assert "Provisional" not in text
    # LS without penalty/norm finished only setting 1: every group is compared on setting 1 alone
    s["ls-none-none"] = landscape_findings.summary(spec, full["ls-none-none"][1:])
    text = "\n".join(landscape_findings.finding_losses(s))
    assert "NS 20, LS 21, WGAN 22" in text
    assert "**Provisional:** on the 1 of 2 grid settings" in text
    assert "1 of the 18 grid trials" in text and "**holds** so far at this scale" in text
    # ... and WGAN only setting 0: no setting is shared, nothing is compared
    s["wgan-none-none"] = landscape_findings.summary(spec, full["wgan-none-none"][:1])
    text = "\n".join(landscape_findings.finding_losses(s))
    assert "not enough trials yet: no grid setting is finished by every compared variant" in text
    assert "holds" not in text


def test_findings_are_final_only_when_every_grid_and_seed_re_run_is_done():
    spec = {"grid": [{}, {}], "seeds": [0], "best_seeds": 2}
    full = {"ns-none-none": [_R(10.0, 0), _R(20.0, 1)]}
    title = lambda: landscape_findings.render(  # noqa: E731
        {landscape_findings.SNDCGAN: (spec, list(full), full)}).splitlines()[0]
    assert title().endswith("findings so far")        # the best setting has 1 of 2 seeds
    rerun = _R(12.0, 0)
    rerun.phase = "seeds"
    full["ns-none-none"].append(rerun)
    assert title().endswith("findings")
    del full["ns-none-none"][1]                       # the grid is no longer complete
    assert title().endswith("findings so far")


def test_findings_count_a_regularizer_and_its_cost():
    spec = {"grid": [{}, {}], "seeds": [0]}
    _, s = _loss_study(spec)
    # make SN (setting 0: 5) and GP (setting 0: 12) beat none (setting 0: 10 + i) for NS only
    for label, value in (("ns-none-spectral_norm", 5.0), ("ns-wgan_gp-none", 9.0)):
        s[label] = landscape_findings.summary(spec, [_R(value, 0), _R(30.0, 1)])
    cost = {"started": "2026-12-02T18:00:00+00:00", "rows": [
        {"architecture": "sndcgan", "penalty": "wgan_gp", "d_norm": "none", "vs_none": 1.5},
        {"architecture": "sndcgan", "penalty": "none", "d_norm": "spectral_norm", "vs_none": 1.1}]}
    text = "\n".join(landscape_findings.finding_sn_gp(s, cost))
    assert "NS: none 10, GP 9, SN 5" in text
    assert "**partly**: holds in 2 of 6 comparisons" in text
    assert "GP 1.50x, SN 1.10x" in text and "SN cheaper than GP per step: yes" in text
    # without the benchmark: the trials' training minutes (60 s each here: equal, so not cheaper)
    text = "\n".join(landscape_findings.finding_sn_gp(s))
    assert "none 1, GP 1, SN 1" in text and "SN cheaper than GP per step: no" in text


def test_findings_combined_penalty_and_norm_across_both_studies():
    spec = {"grid": [{}], "seeds": [0]}

    def study(values):
        return {label: landscape_findings.summary(spec, [_R(v, 0)]) for label, v in values.items()}

    sndcgan = study({f"{loss}-{p}-{n}": v for loss in ("ns", "ls", "wgan") for (p, n), v in (
        (("wgan_gp", "spectral_norm"), 5.0), (("wgan_gp", "none"), 7.0),
        (("none", "spectral_norm"), 6.0))})
    dcgan = study({"ns-wgan_gp-spectral_norm": 9.0, "ns-wgan_gp-none": 8.0,
                   "ns-none-spectral_norm": 10.0})
    text = "\n".join(landscape_findings.finding_combined(sndcgan, dcgan))
    assert "SNDCGAN LS: GP + SN 5, GP 7, SN 6" in text and "DCGAN NS: GP + SN 9, GP 8, SN 10" in text
    assert "**partly**: holds in 3 of 4 comparisons" in text


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


@pytest.mark.slow
def test_zoo_folder_is_served_with_its_scores_and_protocols(zoo):
    """`ganhub serve ganhub/models/fashion_mnist`: every zoo model on the page and in index.json,
    its 2k FID beside the protocol the study recorded (a reference name, not a provenance dict)."""
    import threading
    import urllib.request

    from ganhub.hub.serve import Hub
    hub = Hub(landscape.ZOO_DIR, host="127.0.0.1", port=0, samples=False)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(hub.url + "/", timeout=60) as r:
            page = r.read().decode("utf-8")
        with urllib.request.urlopen(hub.url + "/index.json", timeout=60) as r:
            served = {e["name"]: e for e in json.load(r)["models"]}
    finally:
        hub.close()
    assert hub.skipped == []
    for entry in zoo["models"]:
        name = entry["handle"][len(landscape.ZOO_HANDLE):]
        assert served[name]["scores"]["fid"]["value"] == entry["scores"]["fid"]["value"]
        assert f"{entry['scores']['fid']['value']:.2f}" in page
    assert len(re.findall(r"2,000 generated vs (?:2,000 )?fashion_mnist_32 test images",
                          page)) == 2 * len(zoo["models"])
    assert "features: fid_inception_offline" in page


def test_zoo_against_default_says_when_a_better_zoo_model_came_since():
    measured = {"measured": "2026-12-02T18:38:15+00:00",
                "zoo": {"name": "fashion_mnist/sndcgan-a", "fid_2k": 80.0, "fid": 70.0, "kid": 0.05},
                "default": {"fid": 12.3, "kid": 0.004}}
    fresh = "\n".join(landscape_findings.finding_default(measured, (80.0, "s", "a")))
    assert "FID 70 and KID 0.05 at 10k vs 10k (2026-12-02)" in fresh and "The default stays" in fresh
    assert "Stale" not in fresh
    stale = "\n".join(landscape_findings.finding_default(measured, (74.5, "s", "b")))
    assert "**Stale:** variant b of s has since reached a 2k FID of 74.5" in stale
    records = {"a": [_R(80.0, 0)], "b": [_R(74.5, 0), _R(60.0, 1)]}
    for r in records["a"] + records["b"][:1]:
        r.module = "/m"
    records["b"][1].module = None   # no module (diverged): not in the zoo
    assert landscape_findings.zoo_best({"s": (None, ["a", "b"], records)}) == (74.5, "s", "b")


@pytest.mark.parametrize("exits, expected, sleeps", [
    # the first study's last trial runs elsewhere: on to the second, then back to wait on the first
    ([75, 0, 0], [("fashion_mnist_sndcgan", True), ("fashion_mnist_dcgan_norms", True),
                  ("fashion_mnist_sndcgan", False)], 0),
    # both wait on other workers: pause, then both again
    ([75, 75, 0, 0], [("fashion_mnist_sndcgan", True), ("fashion_mnist_dcgan_norms", True)] * 2, 1),
    # a worker that keeps failing: its attempts, then its exit code
    ([1, 1], [("fashion_mnist_sndcgan", True)] * 2, 0),
])
def test_work_moves_on_from_a_study_left_to_other_workers(monkeypatch, exits, expected, sleeps):
    import argparse
    import signal
    calls, paused, codes = [], [], iter(exits)

    def fake_ganhub(*args, nice=False):
        assert args[:2] == ("study", "worker") and nice
        calls.append((args[2], "--leave-when-waiting" in args))
        return next(codes)

    monkeypatch.setattr(landscape, "_ganhub", fake_ganhub)
    monkeypatch.setattr(landscape, "restore", lambda: "kept")
    monkeypatch.setattr(landscape.time, "sleep", paused.append)
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    args = argparse.Namespace(study=None, attempts=2, no_nice=False)
    assert landscape.cmd_work(args) == exits[-1]
    assert calls == expected and paused == [landscape.WAIT_SECONDS] * sleeps
