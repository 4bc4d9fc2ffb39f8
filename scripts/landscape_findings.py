"""docs/landscape/findings.md: the paper's findings checked against the committed study results.

Every number is computed here from the study records (scripts/landscape.py reads them from
docs/landscape/study.db), the cost benchmark (cost.json) and the zoo-against-default measurement
(vs_default.json); nothing is typed in. A comparison uses the grid settings every variant it
compares has finished (the same settings for all), and says "provisional" and what is missing until
every one of them has finished its whole grid.
"""
import json
import statistics

SNDCGAN, DCGAN = "fashion_mnist_sndcgan", "fashion_mnist_dcgan_norms"
LOSS_NAMES = {"ns": "NS", "ls": "LS", "wgan": "WGAN"}


def setting_key(setting):
    return json.dumps(setting, sort_keys=True)


def summary(spec, records):
    """One variant: its finished search values (by setting), best and median, the best setting's
    seeds, cost."""
    search = sorted((r for r in records if r.state == "COMPLETE" and r.phase == "search"
                     and r.value is not None), key=lambda r: r.number)
    values = [r.value for r in search]
    by_setting = {}
    for r in search:
        by_setting.setdefault(setting_key(r.setting), r.value)
    grid = len(spec["grid"]) * len(spec["seeds"]) if spec.get("grid") else None
    top = min(search, key=lambda r: (r.value, r.number)) if search else None
    seeds = []
    if top is not None:
        key = setting_key(top.setting)
        seeds = [r.value for r in records if r.state == "COMPLETE" and r.value is not None
                 and setting_key(r.setting) == key]
    finished = [r for r in records if r.state == "COMPLETE"]
    seconds = [r.seconds for r in finished if r.seconds]
    train = [r.timings["train"] for r in finished if r.timings and r.timings.get("train")]
    return {"done": len(values), "grid": grid, "complete": grid is not None and len(values) >= grid,
            "by_setting": by_setting,
            "best": min(values) if values else None,
            "median": statistics.median(values) if values else None,
            "kid": top.also.get("kid") if top is not None else None,
            "seeds": seeds, "seeds_done": top is not None and len(seeds) >= spec.get("best_seeds", 1),
            "seed_median": statistics.median(seeds) if len(seeds) >= 2 else None,
            "minutes": statistics.mean(seconds) / 60 if seconds else None,
            "train_minutes": statistics.mean(train) / 60 if train else None}


def summaries(results):
    out = {}
    for name, (spec, labels, records) in results.items():
        out[name] = {label: summary(spec, records[label]) for label in labels}
    return out


def _f(value, digits=4):
    return "-" if value is None else f"{value:.{digits}g}"


def table(s):
    lines = ["| variant | grid settings done | best FID | median FID over settings | KID of best "
             "| best setting over seeds: median (n) | mean minutes: training / trial |",
             "|---|---|---|---|---|---|---|"]
    for label, v in s.items():
        seeds = f"{_f(v['seed_median'])} ({len(v['seeds'])})" if v["seeds"] else "-"
        lines.append(f"| {label} | {v['done']}/{v['grid']} | {_f(v['best'])} | {_f(v['median'])} "
                     f"| {_f(v['kid'], 3)} | {seeds} | {_f(v['train_minutes'], 2)} / "
                     f"{_f(v['minutes'], 3)} |")
    return lines


class Basis:
    """What a comparison of ``labels`` rests on: the grid settings every one of them has
    finished (the same settings for every variant, so the comparison is fair however far the
    study got); ``final`` once every variant finished its whole grid."""

    def __init__(self, s, labels):
        self.labels, self.s = labels, s
        self.absent = [lb for lb in labels if lb not in s]
        self.settings, self.final, self.left, self.total = [], False, 0, 0
        if self.absent:
            return
        self.left = sum(max(0, s[lb]["grid"] - s[lb]["done"]) for lb in labels)
        self.total = sum(s[lb]["grid"] for lb in labels)
        self.settings = sorted(set.intersection(*(set(s[lb]["by_setting"]) for lb in labels)))
        self.final = self.left == 0
        self.grid = s[labels[0]]["grid"]

    @property
    def usable(self):
        return not self.absent and bool(self.settings)

    def why_not(self):
        if self.absent:
            return f"not run in this study: {', '.join(self.absent)}"
        return (f"not enough trials yet: no grid setting is finished by every compared variant "
                f"({self.left} of the {self.total} grid trials these variants compare are still "
                f"to run)")

    def caveat(self):
        if self.final:
            return ""
        return (f" **Provisional:** on the {len(self.settings)} of {self.grid} grid settings every "
                f"compared variant has finished; {self.left} of the {self.total} grid trials these "
                f"variants compare are still to run.")

    def values(self, label):
        return [self.s[label]["by_setting"][k] for k in self.settings]

    def median(self, label):
        return statistics.median(self.values(label))

    def score(self):
        """(what, {label: value}): medians over seeds once the grids are complete and every
        compared variant has 3+ seeds of its best setting, else the best over the shared settings
        (the paper's min over a budget, at budget = those settings)."""
        if self.final and all(len(self.s[lb]["seeds"]) >= 3 for lb in self.labels):
            return ("median FID of the best setting over its seeds",
                    {lb: self.s[lb]["seed_median"] for lb in self.labels})
        what = "best FID over the grid" if self.final else "best FID over the shared settings"
        return what, {lb: min(self.values(lb)) for lb in self.labels}


def _verdict(holds, total, final=True):
    so_far = "" if final else " so far"
    if holds == total:
        return f"**holds**{so_far} at this scale"
    if holds == 0:
        return f"**does not hold**{so_far} at this scale"
    return f"**partly**{so_far}: holds in {holds} of {total} comparisons"


def _unknown(out, basis):
    return out + [f"*This run:* {basis.why_not()}.", "", "*Holds at this scale?* not known yet.", ""]


LOSS_GROUPS = (("none", "none"), ("wgan_gp", "none"), ("none", "spectral_norm"))


def finding_losses(s):
    labels = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES for p, n in LOSS_GROUPS]
    out = ["### 1. Losses: NS vs LS vs WGAN", "",
           "*Paper:* no loss is consistently better than the non-saturating (NS) loss, which is stable "
           "across settings; with a penalty or spectral norm the losses end up close.", ""]
    basis = Basis(s, labels)
    if not basis.usable:
        return _unknown(out, basis)
    rows, holds = [], 0
    for p, n in LOSS_GROUPS:
        group = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES]
        medians = {lb: basis.median(lb) for lb in group}
        best = min(medians, key=medians.get)
        holds += best.startswith("ns-")
        rows.append(f"with penalty {p} / D norm {n}: median FID over the settings " + ", ".join(
            f"{LOSS_NAMES[lb.split('-')[0]]} {_f(medians[lb])}" for lb in group)
            + f" (lowest: {LOSS_NAMES[best.split('-')[0]]})")
    return out + ["*This run:* " + "; ".join(rows) + "." + basis.caveat(), "",
                  f"*Holds at this scale?* NS has the lowest median: "
                  f"{_verdict(holds, 3, basis.final)}.", ""]


def _cost_sentence(s, cost):
    """SN's and GP's price per step: the side-by-side benchmark when committed, else the trials'
    training times (noisier: trials ran at different times on a shared machine)."""
    if cost:
        rows = {(r["penalty"], r["d_norm"]): r for r in cost["rows"]
                if r["architecture"] == "sndcgan"}
        gp, sn = rows[("wgan_gp", "none")]["vs_none"], rows[("none", "spectral_norm")]["vs_none"]
        return (gp, sn, f"Cost per training step against none, SNDCGAN 1/8 side by side "
                f"(benchmarks/regularization_cost.py, {cost['started'][:10]}, cost.json): GP "
                f"{gp:.2f}x, SN {sn:.2f}x.")
    minutes = {k: [s[f"{loss}-{p}-{n}"]["train_minutes"] for loss in LOSS_NAMES]
               for k, (p, n) in {"none": ("none", "none"), "GP": ("wgan_gp", "none"),
                                 "SN": ("none", "spectral_norm")}.items()}
    if any(m is None for ms in minutes.values() for m in ms):
        return None, None, ""
    mean = {k: statistics.mean(ms) for k, ms in minutes.items()}
    return (mean["GP"] / mean["none"], mean["SN"] / mean["none"],
            f"Mean training minutes per trial (shared machine): none {_f(mean['none'], 3)}, GP "
            f"{_f(mean['GP'], 3)}, SN {_f(mean['SN'], 3)}.")


def finding_sn_gp(s, cost=None):
    out = ["### 2. Spectral norm and the gradient penalty improve quality; SN is cheaper", "",
           "*Paper:* both spectral normalization and the gradient penalty (WGAN-GP) improve FID over "
           "no regularization; SN matches or beats GP at a fraction of GP's cost.", ""]
    labels = [f"{loss}-{p}-{n}" for loss in LOSS_NAMES for p, n in LOSS_GROUPS]
    basis = Basis(s, labels)
    if not basis.usable:
        return _unknown(out, basis)
    what, score = basis.score()
    rows, holds = [], 0
    for loss in LOSS_NAMES:
        none, gp, sn = (score[f"{loss}-{p}-{n}"] for p, n in LOSS_GROUPS)
        holds += (gp < none) + (sn < none)
        rows.append(f"{LOSS_NAMES[loss]}: none {_f(none)}, GP {_f(gp)}, SN {_f(sn)}")
    gp_cost, sn_cost, sentence = _cost_sentence(s, cost)
    cheaper = ("not measured" if gp_cost is None else
               f"{'yes' if sn_cost < gp_cost else 'no'} ({sn_cost:.2f}x against {gp_cost:.2f}x)")
    return out + [f"*This run* ({what}): " + "; ".join(rows) + ". " + sentence + basis.caveat(),
                  "", f"*Holds at this scale?* the regularized variant beats none: "
                  f"{_verdict(holds, 6, basis.final)}; SN cheaper than GP per step: {cheaper}.", ""]


PENALTY_NAMES = {"none": "no penalty", "wgan_gp": "WGAN-GP", "dragan": "DRAGAN", "l2": "L2"}


def _grouped(out, groups, judge, lead, claim):
    """A finding made group by group, each on its own Basis: ``groups`` are (name, study
    summaries, labels); ``judge(values)`` → (comparisons that hold, comparisons, text)."""
    rows, holds, total, final = [], 0, 0, True
    for name, st, labels in groups:
        basis = Basis(st, labels)
        if not basis.usable:
            continue
        what, score = basis.score()
        h, n, text = judge([score[lb] for lb in labels])
        holds, total, final = holds + h, total + n, final and basis.final
        extent = "" if basis.final else f", {len(basis.settings)} of {basis.grid} settings"
        rows.append(f"{name}: {text} ({what}{extent})")
    if not rows:
        return _unknown(out, Basis(groups[0][1], groups[0][2]))
    caveat = "" if final else " **Provisional:** not every variant has finished its grid."
    return out + [f"*This run*{lead}: " + "; ".join(rows) + "." + caveat, "",
                  f"*Holds at this scale?* {claim}: {_verdict(holds, total, final)}.", ""]


def finding_bn(s_dcgan):
    out = ["### 3. Batch norm in the discriminator hurts", "",
           "*Paper:* batch normalization in D makes FID worse than no normalization, and spectral "
           "norm is better than both (measured with SNDCGAN and ResNet19; SNDCGAN's D takes no "
           "batch norm in compare_gan, so this run uses DCGAN, the study's other small network, "
           "with each penalty of the paper's Figure 2).", ""]
    if s_dcgan is None:
        return out + ["*This run:* the DCGAN study has no results yet.", "",
                      "*Holds at this scale?* not known yet.", ""]

    def judge(values):
        none, bn, sn = values
        return ((bn > none) + (sn < bn), 2,
                f"none {_f(none)}, batch norm {_f(bn)}, spectral norm {_f(sn)}")

    groups = [(PENALTY_NAMES[p], s_dcgan, [f"ns-{p}-none", f"ns-{p}-batch_norm",
                                           f"ns-{p}-spectral_norm"]) for p in PENALTY_NAMES]
    return _grouped(out, groups, judge, " (DCGAN, NS)",
                    "BN worse than none and SN better than BN")


def finding_combined(s, s_dcgan=None):
    out = ["### 4. A penalty together with a normalization: GP + SN, GP + LN", "",
           "*Paper:* the gradient penalty combined with spectral norm (or layer norm) gives the best "
           "FIDs, better than either alone.", "",
           "Layer norm: neither SNDCGAN nor DCGAN takes it in D (compare_gan allowed it in the "
           "ResNets only, which cost several times more per step; see README.md), so GP + LN is "
           "not measured here.", ""]

    def judge(values):
        both, gp, sn = values
        return both < min(gp, sn), 1, f"GP + SN {_f(both)}, GP {_f(gp)}, SN {_f(sn)}"

    studies = [(f"SNDCGAN {LOSS_NAMES[loss]}", s, loss) for loss in LOSS_NAMES]
    if s_dcgan:
        studies.append(("DCGAN NS", s_dcgan, "ns"))
    groups = [(name, st, [f"{loss}-wgan_gp-spectral_norm", f"{loss}-wgan_gp-none",
                          f"{loss}-none-spectral_norm"]) for name, st, loss in studies]
    return _grouped(out, groups, judge, "", "GP + SN beats both alone")


def zoo_best(results):
    """(2k FID, study, variant) of the zoo's best model as `landscape.py zoo` picks it (the lowest
    value of any finished trial with a module, seed re-runs included), or None."""
    found = [(r.value, name, label) for name, (_, labels, records) in results.items()
             for label in labels for r in records[label]
             if r.state == "COMPLETE" and r.value is not None and r.module]
    return min(found) if found else None


def finding_default(vs_default, current=None):
    """``current``: zoo_best() of the results now; a measurement of another model is stale."""
    out = ["### 5. The zoo against the shipped default model", "",
           "The issue: if a zoo model beats the default (SNDCGAN 1/4, 50,000 steps, EMA) at 10k "
           "generated vs the 10k test images (offline Inception, legacy resize), it becomes the "
           "default.", ""]
    if not vs_default:
        return out + ["*Not measured yet* (`python scripts/landscape.py vs-default`).", ""]
    z, d = vs_default["zoo"], vs_default["default"]
    beats = z["fid"] < d["fid"]
    text = (f"The zoo's best model by its 2k FID, `{z['name']}` (2k FID {_f(z['fid_2k'])}), scores "
            f"FID {_f(z['fid'])} and KID {_f(z['kid'], 3)} at 10k vs 10k "
            f"({vs_default['measured'][:10]}); the default scores FID {_f(d['fid'])} and KID "
            f"{_f(d['kid'], 3)} under the same protocol. "
            + ("It beats the default." if beats else
               "The default stays: the zoo's models are 2,000-step models."))
    if current is not None and current[0] < z["fid_2k"]:
        text += (f" **Stale:** variant {current[2]} of {current[1]} has since reached a 2k FID of "
                 f"{_f(current[0])}, below the measured model's; rerun "
                 f"`python scripts/landscape.py vs-default`.")
    return out + [text, ""]


def render(results, cost=None, vs_default=None):
    """findings.md from the study results, the committed cost benchmark (cost.json) and the
    zoo-against-default measurement (vs_default.json), each optional."""
    s = summaries(results)
    sndcgan = s.get(SNDCGAN, {})
    dcgan = s.get(DCGAN)
    done = sum(v["done"] + max(0, len(v["seeds"]) - 1) for st in s.values() for v in st.values())
    finished = all(v["complete"] and v["seeds_done"] for st in s.values() for v in st.values())
    lines = ["# The GAN Landscape on Fashion-MNIST: findings" + ("" if finished else " so far"), "",
             "Generated by `python scripts/landscape.py report` from the committed results "
             "(docs/landscape/study.db, cost.json, vs_default.json); do not edit by hand. Scores: FID of 2,000 generated images "
             "vs the first 2,000 Fashion-MNIST test images padded to 32×32 (offline FID Inception, "
             "legacy resize), the minimum over the trial's trained checkpoints (steps 1,000 and "
             "2,000); KID on the same images. FIDs at 2k samples are biased upward and compare "
             "only with each other.", "",
             f"Finished trials (search and seed re-runs): {done}.", ""]
    for name, st in s.items():
        lines += [f"## Study {name}", ""] + table(st) + [""]
    lines += ["## Findings", ""]
    lines += finding_losses(sndcgan) + finding_sn_gp(sndcgan, cost) + finding_bn(dcgan)
    lines += finding_combined(sndcgan, dcgan) + finding_default(vs_default, zoo_best(results))
    lines += ["Caveats: width 1/8 networks trained for 2,000 D steps (the paper: full width, "
              "100k-200k steps), 4 Table-1a settings per variant (the paper: 24, and 100 for its "
              "wide search), one seed per setting and 3 for the best; a finding that holds here "
              "holds for small, briefly trained networks, not necessarily at the paper's scale.", ""]
    return "\n".join(lines)
