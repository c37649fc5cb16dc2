"""The protocol change log on synthetic v1 and v2 claims files."""
import json

from entres.claims import changelog


def v2_row(label, verdict, name="within-block |u_iᵀv_i| / chance, identity", passed=True, delta=1.0,
           seeds_needed=None, acc=1.0):
    return {"dataset": label, "verdict": verdict, "min_train_acc": acc, "seeds_needed": seeds_needed,
            "primary": {"name": name, "delta": delta},
            "gate": {"passed": passed, "rule": "train accuracy ≥ 0.999, held for ≥ 3,000 SGD steps",
                     "min_terminal_steps": 2773}}


def write(folder, stem, payload):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.book.json").write_text(json.dumps(payload))


def test_split_rows_pair_with_their_v1_row(tmp_path):
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    write(v1, "RA-2", {"claim": "RA-2", "notebook": "ra2_alignment", "rows": [
        {"dataset": "mnist", "verdict": "contradicted", "effects": {"within": [0.4, 0.3, 0.5], "across_U": [0.1, 0, 0.2]}},
        {"dataset": "cifar10", "verdict": "contradicted", "effects": {"within": [0.4, 0.3, 0.5]}}]})
    write(v2, "RA-2", {"claim": "RA-2", "notebook": "ra2_alignment", "protocol": 2, "rows": [
        v2_row("mnist: within-block", "supported"), v2_row("mnist: across depth", "supported", "overlap / (C/d)"),
        v2_row("cifar10: within-block", "not in regime", passed=False, acc=0.9998)]})
    log = changelog.change_log("book", v1, v2)
    assert list(log.v1_row) == ["mnist", "mnist", "cifar10"]
    assert list(log.v2) == ["supported", "supported", "not in regime"]
    kinds = [[k for k, _ in rules] for rules in log.rules]
    assert "split" in kinds[0] and "primary" in kinds[0] and "null" in kinds[0]  # two measures voted in v1
    assert kinds[2][0] == "gate" and "split" not in kinds[2] and "primary" not in kinds[2]
    assert changelog.summary(log) == {"v1_rows": 2, "v2_rows": 3, "changed": 3, "pending": 0}


def test_unconverted_page_is_pending_and_unchanged(tmp_path):
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    row = {"dataset": "cifar10 (conv)", "verdict": "inconclusive", "effects": {"alpha": [1, 0, 2]}}
    write(v1, "RA-4+ra_conv", {"claim": "RA-4", "notebook": "ra_conv", "rows": [row]})
    write(v2, "RA-4+ra_conv", {"claim": "RA-4", "notebook": "ra_conv", "rows": [row]})
    log = changelog.change_log("book", v1, v2)
    assert log.rules[0] == [("pending", "page not yet on protocol v2")] and not log.changed[0]


def test_negligible_and_underpowered_name_delta_and_nulls(tmp_path):
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    write(v1, "ERM-1", {"claim": "ERM-1", "notebook": "erm_cnn", "rows": [
        {"dataset": "a", "verdict": "inconclusive", "effects": {"acc": [0, -1, 1]}},
        {"dataset": "b", "verdict": "contradicted", "effects": {"acc": [0, -1, 1]}}]})
    write(v2, "ERM-1", {"claim": "ERM-1", "notebook": "erm_cnn", "protocol": 2, "rows": [
        v2_row("a", "negligible", "test acc, sparse − identity ∪ permutation", delta=0.005),
        v2_row("b", "inconclusive", "overlap ÷ (C/d), identity − none", delta=0.005, seeds_needed=7)]})
    log = changelog.change_log("book", v1, v2)
    a, b = ({k: t for k, t in rules} for rules in log.rules)
    assert "negligible" in a["delta"] and "permutation" in a["null"]
    assert "7 networks" in b["delta"] and "no-skip" in b["null"]  # the no-skip control, not chance


def test_dropped_and_new_rows_are_listed(tmp_path):
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    write(v1, "RA-7", {"claim": "RA-7", "notebook": "ra7_collapse", "rows": [
        {"dataset": "mnist", "verdict": "supported", "effects": {}}, {"dataset": "svhn", "verdict": "supported", "effects": {}}]})
    write(v2, "RA-7", {"claim": "RA-7", "notebook": "ra7_collapse", "protocol": 2, "rows": [
        v2_row("mnist", "supported"), v2_row("cifar10", "not in regime", passed=False)]})
    log = changelog.change_log("book", v1, v2)
    assert list(zip(log.v1_row, log.v2_row)) == [("mnist", "mnist"), ("svhn", "(dropped)"), ("(new)", "cifar10")]
    html = changelog.change_log_html(log)
    assert html.count("<tr>") == 4 and 'href="ra7_collapse.html"' in html
