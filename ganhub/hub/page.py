"""The HTML page `ganhub serve` answers at ``/``: one card per model (sample grid, scores with
their protocol, metadata, the load line) and one per reference-statistics file. Pure rendering:
it reads the served models' and references' catalog entries and returns text."""
import html

from ganhub import describe

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ganhub: {title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#fafafa;color:#222}}
h1{{font-size:1.5rem;margin:.2rem 0 .5rem}}
p.intro{{margin:.3rem 0 1rem;overflow-wrap:anywhere}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,21rem),1fr));gap:1rem}}
.card{{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem;min-width:0;
  overflow-wrap:anywhere}}
.card h2{{font-size:1.2rem;margin:0 0 .6rem}}
h2.section{{font-size:1.3rem;margin:1.5rem 0 .5rem}}
.card img{{display:block;width:100%;image-rendering:pixelated;background:#eee}}
table{{border-collapse:collapse;font-size:.9rem;width:100%;margin-top:.7rem}}
td{{padding:.15rem .6rem .15rem 0;vertical-align:top}}
td.key{{color:#666;width:8rem}}
.value{{font-weight:600;font-size:1.05rem;font-variant-numeric:tabular-nums}}
tr.score td{{padding-bottom:.4rem}}
details summary{{cursor:pointer;color:#444;font-size:.85rem}}
details ul{{margin:.3rem 0;padding-left:1.1rem;color:#555;font-size:.85rem}}
code{{font-size:.8rem;background:#f0f0f0;overflow-wrap:anywhere;word-break:break-all}}
code.load{{display:block;padding:.4rem;margin-top:.7rem}}
button.copy{{margin-top:.3rem}}
</style></head><body>
<h1>ganhub models: {title}</h1>
<p class="intro">{count} model(s){reference_count}. Catalog: <a href="index.json">index.json</a>
(use it with <code>GANHUB_CATALOGS={base}/index.json</code>)</p>
<div class="cards">
{cards}
</div>
{references}<script>
for (const img of document.querySelectorAll("img.samples")) {{
  const mark = ok => img.closest(".card").dataset.samples = ok ? "loaded" : "failed";
  if (img.complete) mark(img.naturalWidth > 0);
  img.addEventListener("load", () => mark(true));
  img.addEventListener("error", () => mark(false));
}}
for (const button of document.querySelectorAll("button.copy")) {{
  button.addEventListener("click", () =>
    navigator.clipboard.writeText(button.previousElementSibling.textContent));
}}
// How many elements stick out past the right edge of the window (0 on a page that fits).
const overflowing = () => [...document.body.querySelectorAll("*")].filter(
  e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).length;
document.body.dataset.overflow = overflowing();
window.addEventListener("load", () => document.body.dataset.overflow = overflowing());
document.body.dataset.ready = "yes";
</script>
</body></html>
"""

_METRIC_NAMES = {"fid": "FID", "kid": "KID", "is": "IS", "inception_score": "IS",
                 "ms_ssim": "MS-SSIM", "ms-ssim": "MS-SSIM"}


def format_score(value, std=None):
    """A score to the precision it carries: two decimals from 1 up (FID 12.30), two significant
    digits below (KID 0.0042), the spread to the same decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    import math
    value = float(value)
    if value == 0 or not math.isfinite(value):
        decimals = 2
    elif abs(value) >= 1:
        decimals = 2
    else:
        decimals = 1 - math.floor(math.log10(abs(value)))
    text = f"{value:.{decimals}f}"
    if isinstance(std, (int, float)) and not isinstance(std, bool) and std == std:
        text += f" ± {float(std):.{decimals}f}"
    return text


def protocol_sentence(protocol, source=None):
    """(short sentence, [detail lines]) for a score's protocol, a ganhub evaluation's or a study
    trial's dict or a catalog's free text."""
    if not isinstance(protocol, dict):
        text = str(protocol) if protocol else "protocol not given"
        return (f"{source}" if source else "details"), [text]
    f = describe.protocol_facts(protocol)
    short = f"{f['generated']} generated" + (f" vs {f['reference']}" if "reference" in f else "")
    details = []
    if "extractor" in f:
        details.append(f"features: {f['extractor']}" + (f" (sha256 {f['extractor_sha256']}…)"
                                                        if "extractor_sha256" in f else ""))
    if "resize" in f:
        details.append(f"resize: {f['resize']}")
    details.append(f"latent seed: {f['seed']}")
    if "kid_blocks" in f:
        details.append(f"KID blocks: {f['kid_blocks']}")
    if "reference_sha256" in f:
        details.append(f"reference data sha256: {f['reference_sha256']}…")
    if "scored" in f:
        details.append(f"scored: {f['scored']}")
    if "ganhub_version" in f:
        details.append(f"ganhub {f['ganhub_version']}")
    if source:
        details.append(f"source: {source}")
    return short, details


def _human_size(n):
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def _row(key, value_html):
    return f'<tr><td class="key">{html.escape(key)}</td><td>{value_html}</td></tr>'


def _card(model, base):
    entry = model.entry(base)
    esc = html.escape
    load_line = f'ganhub.load("{entry["handle"]}#sha256={model.sha256}")'
    rows = []
    for key, score in (entry.get("scores") or {}).items():
        score = score if isinstance(score, dict) else {"value": score}
        short, details = protocol_sentence(score.get("protocol"), score.get("source"))
        items = "".join(f"<li>{esc(line)}</li>" for line in details)
        rows.append(f'<tr class="score" data-metric="{esc(str(key))}">'
                    f'<td class="key">{esc(_METRIC_NAMES.get(key, key))}</td><td>'
                    f'<span class="value">{esc(format_score(score.get("value"), score.get("std")))}'
                    f'</span><details><summary>{esc(short)}</summary><ul>{items}</ul>'
                    f'</details></td></tr>')
    meta = []
    shape = entry.get("image_shape")
    values = {
        "dataset": entry.get("dataset"), "architecture": entry.get("architecture"),
        "loss": entry.get("loss"), "D normalization": entry.get("normalization"),
        "penalty": describe.format_penalty(entry["penalty"]) if entry.get("penalty") else None,
        "z": describe.format_z(entry["z"]) if entry.get("z") else None,
        "images": "×".join(str(d) for d in shape) if isinstance(shape, (list, tuple)) else shape,
        "weights": describe.describe_weights((entry.get("training") or {}).get("generator_weights")),
        "created": str(entry["created"])[:10] if entry.get("created") else None,
        "size": _human_size(model.size),
    }
    for key, value in values.items():
        if value is not None:
            meta.append(_row(key, esc(str(value))))
    meta.append(_row("sha256", f"<code>{model.sha256}</code>"))
    name = esc(model.name)
    return (f'<div class="card" id="model-{name}" data-name="{name}">'
            f"<h2>{name}</h2>"
            f'<img class="samples" alt="samples from {name}" src="samples/{name}.png">'
            f'<img class="walk" alt="latent walks of {name}" src="walks/{name}.gif" loading="lazy"'
            f' style="margin-top:.6rem"><div class="walk-caption" style="font-size:.8rem;color:#666">'
            f'latent walks: each tile loops through 3 seeded latents</div>'
            f'<table class="scores">{"".join(rows) or "<tr><td>no scores</td></tr>"}</table>'
            f'<table class="metadata">{"".join(meta)}</table>'
            f'<code class="load">{esc(load_line)}</code>'
            f'<button class="copy" type="button">copy</button></div>')


def _references_section(references, base):
    """The served reference statistics: what each holds and how `ganhub evaluate` uses it."""
    if not references:
        return ""
    esc = html.escape
    cards = []
    for ref in references.values():
        entry = ref.entry(base)
        extractor = entry.get("extractor") or {}
        meta = [_row("images", esc(describe.reference_words(
                    {k: entry[k] for k in ("dataset", "split", "num_samples") if entry.get(k)}))),
                _row("features", esc(f"{extractor.get('id')} (sha256 "
                                     f"{str(extractor.get('sha256'))[:12]}…)")),
                _row("resize", esc(str(entry.get("resize")))),
                _row("size", esc(_human_size(entry["size"]))),
                _row("sha256", f"<code>{esc(entry['sha256'])}</code>")]
        use = f"ganhub evaluate MODEL --reference {entry['handle']}"
        name = esc(ref.name)
        cards.append(f'<div class="card reference" id="reference-{name}" data-name="{name}">'
                     f'<h2>{name}</h2><table class="metadata">{"".join(meta)}</table>'
                     f'<code class="load">{esc(use)}</code>'
                     f'<button class="copy" type="button">copy</button></div>')
    return (f'<h2 class="section" id="references">reference statistics</h2>\n'
            f'<div class="cards">\n{chr(10).join(cards)}\n</div>\n')


def render(title, models, references, base):
    """The page for ``models`` and ``references`` ({name: ServedModel / ServedReference}) served
    at ``base`` (http://host:port)."""
    refs = len(references)
    return _PAGE.format(title=html.escape(title), count=len(models),
                        cards="\n".join(_card(m, base) for m in models.values()),
                        base=html.escape(base),
                        reference_count=f", {refs} reference file(s)" if refs else "",
                        references=_references_section(references, base))
