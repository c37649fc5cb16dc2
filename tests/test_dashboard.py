"""The dashboard's counts, rows and legend, on a synthetic verdict table."""
import pandas as pd

from entres.claims import dashboard, protocol


def table(rows):
    base = {"claim": "RA-1", "text": "a line", "notebook": "ra1_line", "dataset": "mnist", "verdict": "supported",
            "effect": "κ_line, identity: 0.999 [0.998, 0.999]", "min_train_acc": 0.99996, "stability": "stable",
            "caveat": "", "delta": 0.5, "protocol": 2, "problem": float("nan")}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_counts_list_every_verdict_word_in_order_with_zeros():
    t = table([{}, {"verdict": "not in regime"}, {"verdict": "not in regime"}])
    counts = dashboard.counts(t)
    assert list(counts)[:6] == list(dashboard.VERDICT_ORDER)
    assert counts["supported"] == 1 and counts["not in regime"] == 2 and counts["negligible"] == 0
    assert sum(counts.values()) == len(t)


def test_unknown_verdicts_are_counted_too():
    counts = dashboard.counts(table([{"verdict": "unreadable"}]))
    assert counts["unreadable"] == 1 and sum(counts.values()) == 1


def test_rows_group_by_claim_and_show_four_digit_train_accuracy():
    t = table([{}, {"dataset": "fashionmnist", "verdict": "not in regime", "min_train_acc": 0.99991,
                    "stability": "depends on gate"},
               {"claim": "RA-2", "notebook": "ra2_alignment", "dataset": "mnist"}])
    html = dashboard.rows_html(t)
    assert html.count('class="claim-head"') == 2  # one header line per claim and page
    assert '<a href="ra1_line.html">RA-1</a>' in html and '<a href="ra2_alignment.html">RA-2</a>' in html
    assert "1.0000" in html and "0.9999" in html  # 0.99996 must not read as 0.9999 nor 1.000
    assert "stability-depends" in html
    assert html.count("verdict-badge") == 3


def test_effect_is_split_into_name_and_value():
    assert dashboard.split_effect("κ_steps = 1 − cv/cv₀, identity: 0.866 [0.84, 0.892]") == (
        "κ_steps = 1 − cv/cv₀, identity", "0.866 [0.84, 0.892]")
    assert dashboard.split_effect("cv 0.2 [0.1, 0.3]; lin 0.6 [0.4, 0.8]") == ("", "cv 0.2 [0.1, 0.3]; lin 0.6 [0.4, 0.8]")


def test_long_caveat_is_folded_short_one_shown_whole():
    long = "word " * 60
    html = dashboard.rows_html(table([{"caveat": long}, {"caveat": "short note"}]))
    assert "<details>" in html and "short note" in html
    assert html.count('class="caveat"') == 2


def test_v1_rows_are_marked_as_such():
    html = dashboard.rows_html(table([{"protocol": 1, "effect": "cv 0.28 [0.25, 0.30]; lin 0.6 [0.4, 0.8]"}]))
    assert "protocol v1" in html


def test_legend_has_the_five_verdict_words_and_links_the_protocol():
    html = dashboard.legend_html()
    for verdict in protocol.VERDICTS:
        assert f">{verdict}</span>" in html
    assert dashboard.PROTOCOL_ANCHOR in html


def test_text_starts_with_counts_and_has_a_line_per_row():
    t = table([{}, {"verdict": "negligible"}])
    lines = dashboard.dashboard_text(t).splitlines()
    assert lines[0].startswith("counts: supported 1, contradicted 0, negligible 1")
    assert len(lines) == 3
