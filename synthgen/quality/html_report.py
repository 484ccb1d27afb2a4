"""`synthgen stats RUN --html FILE`: the report as one self-contained page. Inline CSS and
hand-written inline SVG charts: the file opens offline, from an email attachment or a CI artifact,
with no CDN and no script. Every bar carries a <title>, which browsers show as a tooltip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from ..errors import RunError
from ..integrity import disk_faults
from .summary import UNTESTED_REASONS

GREEN, AMBER, RED, GREY, BLUE = "#2f9e44", "#f2a93b", "#e03131", "#adb5bd", "#4c78a8"
REASON_COLORS = {"format": "#868e96", "guideline": "#f08c00", "duplicate": "#7048e8", "language": "#1098ad"}
# a reason's colour kind; any other reason is a guideline rule's
REASON_KINDS = {"duplicate": "duplicate", "near_duplicate": "duplicate", "wrong_language": "language",
                **dict.fromkeys(UNTESTED_REASONS, "format")}
MAX_LANGUAGES = 20
CHAR_W = 7.2  # px per character of 12px sans-serif: enough to size label columns
ROW_H, BAR_H = 22, 14

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;color:#212529;
 background:#f4f5f7;margin:0}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 4px}
.sub{color:#6c757d;font-size:13px}.note{color:#6c757d;font-size:12px;margin:6px 0 0}
section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:16px 18px;margin:16px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:12px 14px}
.card b{display:block;font-size:22px}.card span{color:#6c757d;font-size:12px}
.warn{background:#fff8e1;border:1px solid #f2a93b;border-radius:8px;padding:8px 14px;margin:12px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:14px}
.hist h3{font-size:13px;margin:0}h3.group{font-size:14px;margin:14px 0 6px;padding-top:8px;border-top:1px solid #eef0f2}.hist .sub{font-size:12px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;margin:4px 0 8px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
th,td{padding:3px 10px;border-bottom:1px solid #eef0f2;text-align:right}
th.t,td.t{text-align:left}th{color:#495057;font-weight:600}
svg.chart{display:block;max-width:100%;height:auto}
svg .lbl{font-size:12px;fill:#343a40}svg .val{font-size:12px;fill:#495057}
svg .tick{font-size:10px;fill:#6c757d}svg .axis{stroke:#ced4da}svg .track{fill:#f1f3f5}
.empty{color:#adb5bd}
"""


def _num(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


def _svg(width: int, height: int, aria: str) -> str:
    # width/height give the natural size; viewBox lets CSS shrink the chart on a narrow window
    return (f'<svg class="chart" role="img" aria-label="{escape(aria)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">')


def stacked_bars(rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]], *,
                 value_text: Callable[[str, Sequence[float]], str], aria: str, max_value: float | None = None,
                 colors: Sequence[Sequence[str]] | None = None, normalize: bool = False) -> str:
    """One horizontal bar per row, segments in `series` order (name, colour), `value_text` at its end;
    `colors` overrides each row's segment colours; `normalize` draws every bar full length (shares),
    so a small row is as readable as a large one."""
    if not rows:
        return '<p class="empty">nothing to show</p>'
    width, max_chars = 1040, min(28, max(len(label) for label, _ in rows))
    label_w = int(max_chars * CHAR_W) + 12
    plot_w = width - label_w - 110
    top = max_value or max(sum(v) for _, v in rows) or 1
    out = [_svg(width, ROW_H * len(rows) + 6, aria)]
    for i, (label, values) in enumerate(rows):
        y = 3 + i * ROW_H
        short = label if len(label) <= max_chars else label[: max_chars - 1] + "\u2026"
        out.append(f'<text x="{label_w - 8}" y="{y + BAR_H - 2}" text-anchor="end" class="lbl">'
                   f'<title>{escape(label)}</title>{escape(short)}</text>'
                   f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{BAR_H}" class="track"/>')
        x = float(label_w)
        scale = plot_w / ((sum(values) or 1) if normalize else top)
        for (name, _), color, v in zip(series, colors[i] if colors else [c for _, c in series], values):
            if v > 0:
                w = max(1.0, scale * v)
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{color}">'
                           f'<title>{escape(label)}: {escape(name)} {_num(v)}</title></rect>')
                x += w
        out.append(f'<text x="{label_w + plot_w + 8}" y="{y + BAR_H - 2}" class="val">'
                   f'{escape(value_text(label, values))}</text>')
    return "".join(out) + "</svg>"


def histogram(edges: Sequence[int], counts: Sequence[int], color: str, aria: str) -> str:
    """Vertical bars over equal-width bins [edges[i], edges[i+1]) (at least one); x labels at a few edges."""
    width, height, left, top_pad = 300, 150, 34, 8
    plot_w, plot_h = width - left - 18, height - top_pad - 30
    base = top_pad + plot_h
    top = max(counts) or 1
    bw = plot_w / len(counts)
    out = [_svg(width, height, aria),
           f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" class="axis"/>',
           f'<text x="{left - 4}" y="{top_pad + 9}" text-anchor="end" class="tick">{top}</text>',
           f'<text x="{left - 4}" y="{base}" text-anchor="end" class="tick">0</text>']
    for i, n in enumerate(counts):
        h = plot_h * n / top
        lo, hi = edges[i], edges[i + 1] - 1
        span = f"{lo}" if lo == hi else f"{lo}\u2013{hi}"
        out.append(f'<rect x="{left + i * bw + 1:.1f}" y="{base - h:.1f}" '
                   f'width="{max(bw - 2, 1):.1f}" height="{h:.1f}" fill="{color}">'
                   f'<title>{span} words: {n}</title></rect>')
    step = -(-len(counts) // 5)  # ceil(n / 5): at most ~6 x labels so they never overlap
    out += [f'<text x="{left + i * bw:.1f}" y="{base + 14}" text-anchor="middle" class="tick">'
            f'{edges[i]}</text>' for i in range(0, len(edges), step)]
    return "".join(out) + (f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" '
                           'class="tick">words</text></svg>')


def legend(series: Sequence[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i style="background:{c}"></i>{escape(name)}</span>' for name, c in series) + "</div>"


def _pct(x: float | None) -> str:
    return "\u2013" if x is None else f"{100 * x:.1f}%"


def _int(n: float | None) -> str:
    return "\u2013" if n is None else f"{n:,}"


def _cell(text: str) -> str:
    # numbers line up on the right, words read from the left
    numeric = text[:1].isdigit() or text[:1] in "$\u2013-"
    return f'<td{"" if numeric else " class=t"}>{escape(text)}</td>'


def _table(head: list[str], rows: list[list[str]]) -> str:
    kinds = [all(_cell(r[i]).startswith("<td>") for r in rows) for i in range(len(head))]
    heads = "".join(f'<th{"" if num else " class=t"}>{escape(h)}</th>' for h, num in zip(head, kinds))
    return ("<table><tr>" + heads + "</tr>" + "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>"
                                                      for r in rows) + "</table>")


def _section(title: str, body: str, sub: str = "") -> str:
    return f'<section><h2>{escape(title)}</h2>{f"<div class=sub>{escape(sub)}</div>" if sub else ""}{body}</section>'


def _cards(r: dict) -> str:
    gen, tk, bs = r["generate"], r["tokens"], r["brainstorm"]
    cost, per = tk["cost_usd"], tk["cost_per_accepted_usd"]  # per: None while nothing is accepted
    per_text = "no accepted examples" if per is None else f"${per:.6f} per accepted"
    cost_card = (("n/a", "cost: no price configured") if cost is None
                 else (f"${cost:,.4f}", f"cost ({per_text})"))
    cards = [
        (_int(gen["accepted"]), f"accepted of {_int(gen['items'])} items ({_pct(gen['acceptance_rate'])})"),
        (_int(gen["rejected"]), "rejected (kept in rejects/)"),
        (_int(gen["flagged"]), "accepted with guideline flags"),
        (_int(bs["tasks_kept"]), f"brainstormed tasks kept ({_int(bs['surplus'])} surplus)"),
        (_int(round(tk["per_accepted"])) if tk["per_accepted"] else "\u2013", "tokens per accepted example"),
        cost_card,
    ]
    return '<div class="cards">' + "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(t)}</span></div>'
                                           for v, t in cards) + "</div>"


def _groups(gen: dict) -> str:
    series = [("accepted", GREEN), ("accepted, flagged", AMBER), ("rejected", RED),
              ("surplus (good, past target)", GREY)]
    rows = [(g, [c["accepted"] - c["flagged"], c["flagged"], c["rejected"], c["surplus"]])
            for g, c in gen["by_group"].items()]
    chart = stacked_bars(rows, series, aria="accepted vs rejected per group", normalize=True,
                         value_text=lambda g, v: f"{int(v[0] + v[1])}/{int(sum(v))} ({_pct((v[0] + v[1]) / sum(v)) if sum(v) else '-'})")
    return _section("Accepted vs rejected per group", legend(series) + chart,
                    "each bar is one group's stage 2 items as shares; the label is accepted/items")


def _reasons(gen: dict) -> str:
    reasons = gen["rejected_by_reason"]
    if not reasons:
        return _section("Rejects by reason", '<p class="empty">no rejects</p>')
    rows = [(k, [n]) for k, n in reasons.items()]
    kind = {k: REASON_KINDS.get(k, "guideline") for k in reasons}
    colors = [[REASON_COLORS[kind[k]]] for k in reasons]
    items = gen["items"] or 1
    chart = stacked_bars(rows, [("rejected", GREY)], colors=colors, aria="rejects by reason",
                         value_text=lambda k, v: f"{int(v[0])} ({_pct(v[0] / items)})")
    kinds = [(k, c) for k, c in REASON_COLORS.items() if k in kind.values()]
    return _section("Rejects by reason", legend(kinds) + chart, "share of all stage 2 items in brackets")


def _adherence(adh: dict) -> str:
    rules = adh["rules"]

    def text(rule: str, _) -> str:
        a = rules[rule]
        if a["adherence"] is None:
            return "off" if a["policy"] == "off" else "not tested"
        return f"{_pct(a['adherence'])} ({a['policy']})"

    scores = [a["adherence"] for a in rules.values()]
    chart = stacked_bars([(rule, [v or 0.0]) for rule, v in zip(rules, scores)], [("passed", GREEN)],
                         colors=[[GREY if v is None else GREEN if v >= 0.95 else AMBER if v >= 0.8 else RED]
                                 for v in scores], max_value=1.0, aria="adherence per rule", value_text=text)
    table = _table(["rule", "policy", "groups", "validated", "rejected", "flagged", "adherence"],
                   [[k, a["policy"], ", ".join(a["groups"]) if len(a["groups"]) < 6 else "all", _int(a["validated"]),
                     _int(a["rejected"]), _int(a["flagged"]), _pct(a["adherence"])] for k, a in rules.items()])
    key = legend([("\u2265 95%", GREEN), ("80\u201395%", AMBER), ("< 80%", RED), ("off / not tested", GREY)])
    return _section("Guideline adherence", key + chart + f'<p class="note">Note: {escape(adh["note"])}.</p>' + table,
                    "share of the items that reached validation which passed each rule")


def _lengths(lengths: dict) -> str:
    blocks = []
    for group, fields in lengths.items():
        cells = []
        for key, s in fields.items():
            h, asked = s["histogram"], s["asked"]
            below = f"; below asked length: {asked['below']}/{asked['checked']} ({_pct(asked['share_below'])})" if asked else ""
            color = RED if asked and (asked["share_below"] or 0) > 0.1 else BLUE
            cells.append(f'<div class="hist"><h3>{escape(key)}</h3>'
                         f'<div class="sub">n={s["count"]}, min {s["min"]}, median {s["median"]:g}, max {s["max"]}'
                         f'{escape(below)}</div>'
                         + histogram(h["edges"], h["counts"], color=color, aria=f"words in {group} {key}") + "</div>")
        blocks.append(f'<h3 class="group">{escape(group)}</h3><div class="grid">{"".join(cells)}</div>')
    body = "".join(blocks) or '<p class="empty">no accepted examples</p>'
    return _section("Words per field (accepted examples)", body,
                    "red: more than 10% of texts shorter than the num_words the prompt asked for")


def _languages(gen: dict) -> str:
    langs = list(gen["by_language"].items())
    keys = ("accepted", "rejected", "surplus")
    rows = [(lang, [c[k] for k in keys]) for lang, c in langs[:MAX_LANGUAGES]]
    if len(langs) > MAX_LANGUAGES:
        rest = langs[MAX_LANGUAGES:]
        rows.append((f"{len(rest)} other languages", [sum(c[k] for _, c in rest) for k in keys]))
    series = [("accepted", GREEN), ("rejected", RED), ("surplus", GREY)]
    items = gen["items"] or 1
    chart = stacked_bars(rows, series, aria="language distribution",
                         value_text=lambda lang, v: f"{int(sum(v))} ({_pct(sum(v) / items)})")
    return _section(f"Languages ({len(langs)})", legend(series) + chart,
                    "items per sampled language (bitext: source->target), share of all items in brackets")


def _gates(r: dict) -> str:
    d, lc = r["duplicates"], r["language_check"]
    verdicts = lc["langid_verdicts"] or {}
    unchecked = _int(lc["unchecked_texts"]) if lc["langid_field_seen"] else "not recorded"
    of_all = _pct(lc["unchecked_texts"] / sum(verdicts.values())) if verdicts else ""
    rows = [["exact duplicates", _int(d["exact"]["count"]), _pct(d["exact"]["rate"])],
            ["near duplicates", _int(d["near"]["count"]), _pct(d["near"]["rate"])],
            ["wrong language", _int(lc["wrong_language"]["count"]), _pct(lc["wrong_language"]["rate"])],
            ["language not judged (langid unchecked)", unchecked, of_all]]
    detail = ", ".join(f"{k} {n:,}" for k, n in verdicts.items())
    note = (f'<p class="note">Language verdicts of accepted examples: {escape(detail)}. "unchecked": a text too '
            'short or too ambiguous for the detector; "off": the check was switched off.</p>') if verdicts else ""
    return _section("Duplicates and language", _table(["gate", "count", "share"], rows) + note,
                    "rates are shares of all stage 2 items; langid shares of accepted examples")


def _brainstorm(bs: dict) -> str:
    if not bs["by_group"]:
        return ""
    series = [("kept", GREEN), ("surplus (good, past quota)", GREY), ("rejected", RED)]
    rows = [(g, [c["kept"], c["surplus"], c["rejected"]]) for g, c in bs["by_group"].items()]
    chart = stacked_bars(rows, series, aria="brainstorm tasks per group",
                         value_text=lambda g, v: f"{int(v[0])} kept")
    reasons = ", ".join(f"{k} {n}" for k, n in bs["rejected_by_reason"].items()) or "none"
    return _section(f"Brainstorm ({bs['status']}, {bs['calls']} calls)", legend(series) + chart
                    + f'<p class="note">Rejected tasks by reason: {escape(reasons)}.</p>')


def _tokens(tk: dict) -> str:
    rows = [[stage, _int(t.get("responses")), _int(t.get("prompt_tokens")), _int(t.get("completion_tokens"))]
            for stage, t in tk["by_stage"].items() if t]
    rows.append(["all", _int(tk["responses"]), _int(tk["prompt_tokens"]), _int(tk["completion_tokens"])])
    per = tk["cost_per_accepted_usd"]
    cost = "n/a (no price configured)" if tk["cost_usd"] is None else f"${tk['cost_usd']:,.4f} total, " + (
        "no accepted examples" if per is None else f"${per:.6f} per accepted example")
    return _section("Tokens and cost", _table(["stage", "responses", "prompt tokens", "completion tokens"], rows)
                    + f'<p class="note">{_int(tk["total"])} tokens in all, {tk["per_accepted"] or "-"} per accepted '
                      f'example (rejects and retries included); cost: {escape(cost)}.</p>')


def render_html(report: dict) -> str:
    gen = report["generate"]
    st = report["status"]
    warnings = "".join(f"<div>\u26a0 {escape(w)}</div>" for w in report["warnings"])
    facts = [report["run_dir"], f"fingerprint {report['fingerprint']}", f"shard {report['shard']}",
             f"brainstorm {st['brainstorm']}", f"generate {st['generate']}", f"updated {report['updated']}",
             f"elapsed {report['elapsed_s']}s"]
    head = "<h1>synthgen run report</h1><div class=sub>" + escape(" \u00b7 ".join(facts)) + "</div>"
    body = (head + (f'<div class="warn">{warnings}</div>' if warnings else "") + _cards(report)
            + _groups(gen) + _reasons(gen) + _adherence(report["adherence"]) + _lengths(report["lengths"])
            + _languages(gen) + _gates(report) + _brainstorm(report["brainstorm"]) + _tokens(report["tokens"]))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>synthgen report: {escape(Path(report['run_dir']).name)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def write_html(report: dict, path: Path) -> Path:
    """Write the page atomically (tmp + rename) so a browser never opens half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with disk_faults(path):  # a full disk: one line naming it, exit 1
            tmp.write_text(render_html(report), encoding="utf-8")
            tmp.replace(path)
    except OSError as exc:  # no such directory, no permission: the path given is wrong
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():  # not unlink(missing_ok): under a file it raises NotADirectoryError
            tmp.unlink()
    return path
