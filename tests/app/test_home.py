"""The Home page explains the idea and links to every other registered page."""

from __future__ import annotations

from autoreg.registry import PAGES


def test_home_states_the_chain_rule(open_page):
    at = open_page("pages/home.py")
    latex = " ".join(el.value for el in at.latex)
    assert r"\prod" in latex and "x_{t-1}" in latex


def test_home_links_every_other_page(open_page):
    at = open_page("pages/home.py")
    links = {el.proto.page for el in at.get("page_link")}
    for spec in PAGES:
        if spec.url_path != "home":
            assert any(
                spec.path.endswith(link) or link.endswith(spec.url_path) for link in links
            ), (
                spec.path,
                links,
            )


def test_the_models_table_names_each_baseline():
    from autoreg.ui.catalog import BASELINES, shipped_models_table

    table = shipped_models_table()
    assert not table.empty
    for family, rows in table.groupby(table["metric"].str.startswith("bits/token")):
        kind = "sequence" if family else "pixelcnn"
        assert set(rows["baseline is"]) == {BASELINES[kind]}
        assert (rows["baseline"] > rows["model value"]).all(), "every model beats its baseline"
