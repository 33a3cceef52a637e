"""Every page of the web UI in Chromium: what it shows, that it works from the keyboard and
at a phone's width, and that a run with 100k points per metric draws quickly."""

import json
import os
import time

from playwright.sync_api import expect

from conftest import SCREENSHOTS, Server, unavailable, watched_page
from seed import BIG_RUN_POINTS, Api

QUERY = "image recognition deep learning"


def chart(page, metric: str):
    """The chart of `metric`, once drawn."""
    figure = page.locator(f'figure.chart[data-metric="{metric}"]')
    expect(figure).to_have_attribute("data-drawn", "true")
    return figure


def test_home_lists_the_most_recent_records(ui, server):
    ui.open("/")
    recent_models = ui.page.get_by_role("region", name="Recent models")
    expect(recent_models.get_by_role("link", name="xgboost-churn")).to_be_visible()
    expect(ui.page.get_by_role("region", name="Recent runs").get_by_role("link", name="long-run")).to_be_visible()
    expect(ui.page.get_by_role("region", name="Recent datasets").get_by_role("link", name="churn-2025")).to_be_visible()
    ui.screenshot("home")


def test_search_by_meaning_ranks_resnet50_first(ui, server):
    stats = Api(server.url).get("/stats")
    if stats["index"]["embedder"]["kind"] != "transformer":
        unavailable(f"the server embeds with {stats['index']['embedder']} (cargo xtask fetch-model)")
    ui.open("/")
    box = ui.page.get_by_role("searchbox", name="Search by meaning")
    box.fill(QUERY)
    box.press("Enter")
    hits = ui.page.get_by_role("region", name="Models").locator("li.hit")
    expect(hits.first).to_contain_text("resnet50")
    expect(hits.first.locator(".score-value")).to_have_text(lambda_score())
    expect(ui.page.get_by_role("region", name="Datasets").locator("li.hit").first).to_contain_text("imagenet-1k")
    ui.screenshot("search")
    hits.first.get_by_role("link", name="resnet50").click()
    expect(ui.page.get_by_role("heading", level=1)).to_contain_text("resnet50")


def lambda_score():
    import re
    return re.compile(r"^0\.\d{3}$|^1\.000$")


def test_search_filters_narrow_the_hits(ui, server):
    ui.open("/search?q=language&framework=xgboost")
    hits = ui.page.get_by_role("region", name="Models").locator("li.hit")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("xgboost-churn")
    expect(ui.page.get_by_label("Framework")).to_have_value("xgboost")


def test_models_list_filters_and_model_page(ui, server):
    ui.open("/models")
    table = ui.page.get_by_role("region", name="Models")
    expect(table.locator("tbody tr")).to_have_count(5)
    ui.page.get_by_label("Framework").select_option("transformers")
    expect(table.locator("tbody tr")).to_have_count(3)
    ui.page.get_by_label("Framework").select_option("")
    ui.screenshot("models")
    table.get_by_role("link", name="resnet50").click()
    expect(ui.page.get_by_role("heading", level=1)).to_contain_text("resnet50")
    versions = ui.page.get_by_role("region", name="Versions")
    expect(versions.locator("tbody tr")).to_have_count(2)
    expect(versions).to_contain_text("checkpoints/resnet50-v1.pt")
    expect(versions).to_contain_text("production")
    runs = ui.page.get_by_role("region", name="Training runs")
    expect(runs.locator("tbody tr")).to_have_count(4)
    expect(ui.page.get_by_role("region", name="Predictions")).to_contain_text("tabby cat")
    ui.screenshot("model")


def test_runs_table_sorts_and_chooses_columns(ui, server):
    ui.open("/runs")
    table = ui.page.get_by_role("region", name="Training runs")
    expect(table.locator("tbody tr")).to_have_count(4)
    heading = table.get_by_role("columnheader", name="Final loss")
    heading.get_by_role("button").click()
    expect(heading).to_have_attribute("aria-sort", "ascending")
    expect(table.locator("tbody tr").first).to_contain_text("lr-0.1")
    heading.get_by_role("button").click()
    expect(heading).to_have_attribute("aria-sort", "descending")
    expect(table.locator("tbody tr").first).to_contain_text("lr-0.001")
    # Hyperparameters and the last value of metrics are columns.
    param = table.get_by_role("columnheader", name="learning_rate", exact=True)
    expect(param).to_be_visible()
    expect(table.get_by_role("columnheader", name="loss (last)")).to_be_visible()
    ui.page.get_by_text("Columns").click()
    ui.page.get_by_role("group", name="Hyperparameters").get_by_role("checkbox", name="learning_rate").uncheck()
    expect(param).to_have_count(0)
    ui.screenshot("runs")


def test_run_page_charts_the_logged_points(ui, server):
    run = server.ids["runs"]["lr-0.01"]
    ui.open(f"/runs/{run}")
    expect(ui.page.get_by_role("heading", level=1)).to_contain_text("lr-0.01")
    params = ui.page.get_by_role("region", name="Hyperparameters")
    expect(params).to_contain_text("learning_rate")
    expect(params).to_contain_text("0.01")
    loss = chart(ui.page, "loss")
    # 300 steps of train and val, all drawn (fewer than the chart's pixels), over steps 0..299.
    expect(loss).to_have_attribute("data-points", "600")
    assert float(loss.get_attribute("data-x-min")) == 0
    assert float(loss.get_attribute("data-x-max")) == 299
    assert loss.locator("canvas").count() == 1
    expect(loss.locator(".u-legend")).to_contain_text("train")
    expect(loss.locator(".u-legend")).to_contain_text("val")
    accuracy = chart(ui.page, "accuracy")
    expect(accuracy).to_have_attribute("data-points", "300")
    ui.screenshot("run")
    ui.page.get_by_role("radio", name="epoch").check()
    by_epoch = chart(ui.page, "loss")
    expect(by_epoch).to_have_attribute("data-x-max", "9")


def test_compare_two_runs_overlays_their_metrics(ui, server):
    ui.open("/runs")
    table = ui.page.get_by_role("region", name="Training runs")
    table.get_by_role("checkbox", name="compare lr-0.1").check()
    table.get_by_role("checkbox", name="compare lr-0.01").check()
    ui.page.get_by_role("button", name="Compare selected (2)").click()
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Compare 2 runs")
    side = ui.page.get_by_role("region", name="Runs side by side")
    row = side.locator("tr", has=ui.page.get_by_role("rowheader", name="learning_rate"))
    expect(row).to_have_class("differs")
    loss = chart(ui.page, "loss")
    legend = loss.locator(".u-legend")
    for label in ("lr-0.1 · train", "lr-0.1 · val", "lr-0.01 · train", "lr-0.01 · val"):
        expect(legend).to_contain_text(label)
    expect(loss).to_have_attribute("data-points", "1200")
    ui.screenshot("compare")
    ui.page.get_by_role("radio", name="epoch").check()
    expect(ui.page).to_have_url(lambda_url("x=epoch"))
    expect(chart(ui.page, "loss")).to_have_attribute("data-x-max", "9")


def lambda_url(part: str):
    import re
    return re.compile(".*" + re.escape(part))


def test_a_prediction_hit_opens_its_model(ui, server):
    ui.open("/search?q=a photo of a cat")
    hit = ui.page.get_by_role("region", name="Predictions").locator("li.hit").first
    expect(hit).to_contain_text("tabby cat")
    hit.get_by_role("link").click()
    expect(ui.page.get_by_role("heading", level=1)).to_contain_text("resnet50")


def test_experiment_shows_variants_side_by_side(ui, server):
    ui.open("/experiments")
    ui.page.get_by_role("link", name="learning-rate-sweep").click()
    side = ui.page.get_by_role("region", name="Runs side by side")
    expect(side.get_by_role("columnheader")).to_have_count(2)
    expect(side).to_contain_text("lr=0.1")
    expect(side).to_contain_text("lr=0.01")
    expect(side.locator("tr", has=ui.page.get_by_role("rowheader", name="Final loss"))).to_have_class("differs")
    ui.screenshot("experiment")
    ui.page.get_by_role("link", name="Compare their metrics").click()
    chart(ui.page, "loss")


def test_datasets_and_a_dataset_page(ui, server):
    ui.open("/datasets")
    table = ui.page.get_by_role("region", name="Datasets")
    expect(table.locator("tbody tr")).to_have_count(4)
    ui.screenshot("datasets")
    table.get_by_role("link", name="imagenet-1k").click()
    expect(ui.page.get_by_role("heading", level=1)).to_contain_text("imagenet-1k")
    expect(ui.page.get_by_role("region", name="Training runs").locator("tbody tr")).to_have_count(3)


def test_status_shows_the_index_and_reindexes(ui, server):
    ui.open("/status")
    expect(ui.page.get_by_role("region", name="Records")).to_contain_text("Training runs")
    collections = ui.page.get_by_role("region", name="Collections")
    expect(collections.locator("tbody tr")).to_have_count(3)
    expect(collections).to_contain_text("models")
    expect(ui.page.get_by_text("Failed vector writes")).to_be_visible()
    ui.screenshot("status")
    ui.page.get_by_role("button", name="Reindex").click()
    expect(ui.page.get_by_role("status")).to_contain_text("Reindexed 5 models, 4 datasets and 2 predictions")


def test_keyboard_alone_reaches_a_page_and_sorts(ui, server):
    ui.open("/")
    expect(ui.page.get_by_role("searchbox")).to_be_focused()
    for _ in range(12):
        ui.page.keyboard.press("Shift+Tab")
        if ui.page.evaluate("document.activeElement.textContent") == "Runs":
            break
    ui.page.keyboard.press("Enter")
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Training runs")
    table = ui.page.get_by_role("region", name="Training runs")
    sort = table.get_by_role("columnheader", name="Duration").get_by_role("button")
    sort.focus()
    ui.page.keyboard.press("Enter")
    expect(table.get_by_role("columnheader", name="Duration")).to_have_attribute("aria-sort", "ascending")


def test_every_page_fits_a_phone(phone, server):
    pages = {"home": "/", "runs": "/runs", "run": f"/runs/{server.ids['runs']['lr-0.1']}",
             "models": "/models", "status": "/status"}
    for name, fragment in pages.items():
        phone.open(fragment)
        expect(phone.page.locator("main h1, main h2").first).to_be_visible()
        phone.page.wait_for_load_state("networkidle")
        width = phone.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{name} is {width[0]} px wide on a {width[1]} px screen"
        phone.screenshot(f"phone-{name}")


def test_a_run_with_100k_points_per_metric_draws_quickly(ui, server):
    run = server.ids["runs"]["long-run"]
    timings = []
    for attempt in range(3):
        ui.page.goto("about:blank")
        started = time.monotonic()
        ui.open(f"/runs/{run}")
        loss = chart(ui.page, "loss")
        chart(ui.page, "learning_rate")
        timings.append(time.monotonic() - started)
    # Downsampled on the server: about one point per pixel, ends and range kept.
    assert int(loss.get_attribute("data-points")) <= 4000
    assert float(loss.get_attribute("data-x-max")) == BIG_RUN_POINTS - 1
    ui.screenshot("run-100k")
    report = {"points_per_metric": BIG_RUN_POINTS, "metrics": 2, "seconds": [round(t, 3) for t in timings],
              "median_seconds": sorted(timings)[1]}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "run-100k-timing.json").write_text(json.dumps(report, indent=2))
    print(f"\nrun page with {BIG_RUN_POINTS} points per metric: drawn in {report['median_seconds']:.3f} s (median of 3)")


def test_a_token_is_asked_for_and_a_read_token_cannot_reindex(chromium):
    server = Server({"AIMDB_SERVER_TOKENS": "write-secret", "AIMDB_SERVER_READ_TOKENS": "read-secret"})
    try:
        Api(server.url, "write-secret").post("/models", {"name": "guarded", "framework": "jax"})
        context, ui = watched_page(chromium, server.url, viewport={"width": 1280, "height": 800})
        ui.open("/status")
        expect(ui.page.get_by_role("heading", level=1)).to_have_text("This server needs a token")
        ui.screenshot("token")
        ui.page.get_by_label("Bearer token").fill("read-secret")
        ui.page.get_by_role("button", name="Continue").click()
        expect(ui.page.get_by_role("heading", level=1)).to_have_text("Status")
        expect(ui.page.get_by_role("region", name="Store")).to_contain_text("read")
        expect(ui.page.get_by_role("region", name="Collections")).to_be_visible()
        expect(ui.page.get_by_role("button", name="Reindex")).to_have_count(0)
        ui.open("/models")
        expect(ui.page.get_by_role("link", name="guarded")).to_be_visible()
        # Only the first, token-less, requests were refused.
        assert all("401" in p or "Unauthorized" in p for p in ui.problems), ui.problems
        context.close()
    finally:
        server.stop()
