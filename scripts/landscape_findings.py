"""docs/landscape/findings.md: the paper's findings checked against the committed study results.

Every number is computed here from the study records (scripts/landscape.py reads them from
docs/landscape/study.db); nothing is typed in. A comparison is made only when every variant it
compares has finished its whole grid; otherwise it says how many trials are missing.
"""
import statistics

SNDCGAN, DCGAN = "fashion_mnist_sndcgan", "fashion_mnist_dcgan_norms"
LOSS_NAMES = {"ns": "NS", "ls": "LS", "wgan": "WGAN"}


def summary(spec, records):
    """One variant: its finished search values, best and median, the best setting's seeds, cost."""
    search = sorted((r for r in records if r.state == "COMPLETE" and r.phase == "search"
                     and r.value is not None), key=lambda r: r.number)
    values = [r.value for r in search]
    grid = len(spec["grid"]) * len(spec["seeds"]) if spec.get("grid") else None
    top = min(search, key=lambda r: (r.value, r.number)) if search else None
    seeds = []
    if top is not None:
        key = sorted(top.setting.items())
        seeds = [r.value for r in records if r.state == "COMPLETE" and r.value is not None
                 and sorted(r.setting.items()) == key]
    seconds = [r.seconds for r in records if r.state == "COMPLETE" and r.seconds]
    return {"done": len(values), "grid": grid, "complete": grid is not None and len(values) >= grid,
            "best": min(values) if values else None,
            "median": statistics.median(values) if values else None,
            "kid": top.also.get("kid") if top is not None else None,
            "seeds": seeds, "seed_median": statistics.median(seeds) if len(seeds) >= 2 else None,
            "minutes": statistics.mean(seconds) / 60 if seconds else None}


def summaries(results):
    out = {}
    for name, (spec, labels, records) in results.items():
        out[name] = {label: summary(spec, records[label]) for label in labels}
    return out


def _f(value, digits=4):
    return "-" if value is None else f"{value:.{digits}g}"


def table(s):
    lines = ["| variant | grid settings done | best FID | median FID over settings | KID of best "
             "| best setting over seeds: median (n) | mean trial minutes |",
             "|---|---|---|---|---|---|---|"]
    for label, v in s.items():
        seeds = f"{_f(v['seed_median'])} ({len(v['seeds'])})" if v["seeds"] else "-"
        lines.append(f"| {label} | {v['done']}/{v['grid']} | {_f(v['best'])} | {_f(v['median'])} "
                     f"| {_f(v['kid'], 3)} | {seeds} | {_f(v['minutes'], 3)} |")
    return lines


def _missing(s, labels):
    """None when every variant finished its grid, else a sentence saying what is missing."""
    absent = [lb for lb in labels if lb not in s]
    if absent:
        return f"not run in this study: {', '.join(absent)}"
    left = sum(max(0, s[lb]["grid"] - s[lb]["done"]) for lb in labels)
    if left:
        return (f"not enough trials yet: {left} of the {sum(s[lb]['grid'] for lb in labels)} grid "
                f"trials these variants compare are still to run")
    return None


def _score(s, labels):
    """(what, {label: value}): medians over seeds when every compared variant has 3+, else the
    best of the grid (the paper's min over a budget, at budget = the grid)."""
    if all(len(s[lb]["seeds"]) >= 3 for lb in labels):
        return "median FID of the best setting over its seeds", {lb: s[lb]["seed_median"] for lb in labels}
    return "best FID over the grid", {lb: s[lb]["best"] for lb in labels}


def _verdict(holds, total):
    if holds == total:
        return "**holds** at this scale"
    if holds == 0:
        return "**does not hold** at this scale"
    return f"**partly**: holds in {holds} of {total} comparisons"


def finding_losses(s):
    labels = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES for p, n in
              (("none", "none"), ("wgan_gp", "none"), ("none", "spectral_norm"))]
    out = ["### 1. Losses: NS vs LS vs WGAN", "",
           "*Paper:* no loss is consistently better than the non-saturating (NS) loss, which is stable "
           "across settings; with a penalty or spectral norm the losses end up close.", ""]
    missing = _missing(s, labels)
    if missing:
        return out + [f"*This run:* {missing}.", "", "*Holds at this scale?* not known yet.", ""]
    rows, holds = [], 0
    for p, n in (("none", "none"), ("wgan_gp", "none"), ("none", "spectral_norm")):
        group = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES]
        medians = {lb: s[lb]["median"] for lb in group}
        best = min(medians, key=medians.get)
        holds += best.startswith("ns-")
        rows.append(f"with penalty {p} / D norm {n}: median FID over the grid " + ", ".join(
            f"{LOSS_NAMES[lb.split('-')[0]]} {_f(medians[lb])}" for lb in group)
            + f" (lowest: {LOSS_NAMES[best.split('-')[0]]})")
    return out + ["*This run:* " + "; ".join(rows) + ".", "",
                  f"*Holds at this scale?* NS has the lowest median: {_verdict(holds, 3)}.", ""]


def finding_sn_gp(s):
    out = ["### 2. Spectral norm and the gradient penalty improve quality; SN is cheaper", "",
           "*Paper:* both spectral normalization and the gradient penalty (WGAN-GP) improve FID over "
           "no regularization; SN matches or beats GP at a fraction of GP's cost.", ""]
    labels = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES for p, n in
              (("none", "none"), ("wgan_gp", "none"), ("none", "spectral_norm"))]
    missing = _missing(s, labels)
    if missing:
        return out + [f"*This run:* {missing}.", "", "*Holds at this scale?* not known yet.", ""]
    what, score = _score(s, labels)
    rows, holds = [], 0
    for loss in LOSS_NAMES:
        none, gp, sn = (score[f"{loss}-{p}-{n}"] for p, n in
                        (("none", "none"), ("wgan_gp", "none"), ("none", "spectral_norm")))
        holds += (gp < none) + (sn < none)
        rows.append(f"{LOSS_NAMES[loss]}: none {_f(none)}, GP {_f(gp)}, SN {_f(sn)}")
    cost = {k: statistics.mean(s[f"{loss}-{p}-{n}"]["minutes"] for loss in LOSS_NAMES)
            for k, (p, n) in {"GP": ("wgan_gp", "none"), "SN": ("none", "spectral_norm"),
                              "none": ("none", "none")}.items()}
    return out + [f"*This run* ({what}): " + "; ".join(rows) + ". Mean trial time (training and "
                  f"scoring, on a shared machine): none {_f(cost['none'], 3)} min, GP "
                  f"{_f(cost['GP'], 3)} min, SN {_f(cost['SN'], 3)} min.", "",
                  f"*Holds at this scale?* the regularized variant beats none: "
                  f"{_verdict(holds, 6)}; SN cheaper than GP: "
                  f"{'yes' if cost['SN'] < cost['GP'] else 'no'}.", ""]


def finding_bn(s_dcgan):
    labels = ["ns-none-none", "ns-none-batch_norm", "ns-none-spectral_norm"]
    out = ["### 3. Batch norm in the discriminator hurts", "",
           "*Paper:* batch normalization in D makes FID worse than no normalization, and spectral "
           "norm is better than both (measured with SNDCGAN and ResNet19; SNDCGAN's D takes no "
           "batch norm in compare_gan, so this run uses DCGAN, the study's other small network).", ""]
    if s_dcgan is None:
        return out + ["*This run:* the DCGAN study has no results yet.", "",
                      "*Holds at this scale?* not known yet.", ""]
    missing = _missing(s_dcgan, labels)
    if missing:
        return out + [f"*This run:* {missing}.", "", "*Holds at this scale?* not known yet.", ""]
    what, score = _score(s_dcgan, labels)
    none, bn, sn = (score[lb] for lb in labels)
    holds = (bn > none) + (sn < bn)
    return out + [f"*This run* (DCGAN, NS, no penalty; {what}): none {_f(none)}, batch norm "
                  f"{_f(bn)}, spectral norm {_f(sn)}.", "",
                  f"*Holds at this scale?* BN worse than none, SN better than BN: "
                  f"{_verdict(holds, 2)}.", ""]


def finding_combined(s):
    out = ["### 4. A penalty together with a normalization: GP + SN, GP + LN", "",
           "*Paper:* the gradient penalty combined with spectral norm (or layer norm) gives the best "
           "FIDs, better than either alone.", "",
           "Layer norm: neither SNDCGAN nor DCGAN takes it in D (compare_gan allowed it in the "
           "ResNets only), so GP + LN is not measured here.", ""]
    labels = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES for p, n in
              (("wgan_gp", "spectral_norm"), ("wgan_gp", "none"), ("none", "spectral_norm"))]
    missing = _missing(s, labels)
    if missing:
        return out + [f"*This run:* {missing}.", "", "*Holds at this scale?* not known yet.", ""]
    what, score = _score(s, labels)
    rows, holds = [], 0
    for loss in LOSS_NAMES:
        both, gp, sn = (score[f"{loss}-{p}-{n}"] for p, n in
                        (("wgan_gp", "spectral_norm"), ("wgan_gp", "none"), ("none", "spectral_norm")))
        holds += both < min(gp, sn)
        rows.append(f"{LOSS_NAMES[loss]}: GP + SN {_f(both)}, GP {_f(gp)}, SN {_f(sn)}")
    return out + [f"*This run* ({what}): " + "; ".join(rows) + ".", "",
                  f"*Holds at this scale?* GP + SN beats both alone: {_verdict(holds, 3)}.", ""]


def render(results):
    s = summaries(results)
    sndcgan = s.get(SNDCGAN, {})
    dcgan = s.get(DCGAN)
    done = sum(v["done"] + max(0, len(v["seeds"]) - 1) for st in s.values() for v in st.values())
    lines = ["# The GAN Landscape on Fashion-MNIST: findings so far", "",
             "Generated by `python scripts/landscape.py report` from the committed results "
             "(docs/landscape/study.db); do not edit by hand. Scores: FID of 2,000 generated images "
             "vs the first 2,000 Fashion-MNIST test images padded to 32×32 (offline FID Inception, "
             "legacy resize), the minimum over the trial's trained checkpoints (steps 1,000 and "
             "2,000); KID on the same images. FIDs at 2k samples are biased upward and compare "
             "only with each other.", "",
             f"Finished trials (search and seed re-runs): {done}.", ""]
    for name, st in s.items():
        lines += [f"## Study {name}", ""] + table(st) + [""]
    lines += ["## Findings", ""]
    lines += finding_losses(sndcgan) + finding_sn_gp(sndcgan) + finding_bn(dcgan)
    lines += finding_combined(sndcgan)
    lines += ["Caveats: width 1/8 networks trained for 2,000 D steps (the paper: full width, "
              "100k-200k steps), 4 Table-1a settings per variant (the paper: 24, and 100 for its "
              "wide search), one seed per setting and 3 for the best; a finding that holds here "
              "holds for small, briefly trained networks, not necessarily at the paper's scale.", ""]
    return "\n".join(lines)
