"""The page: Arena (blind), Side by side (named), History, Documents, Campaign, Dashboard,
Leaderboard, Export, Evaluations, Use cases, Tuning and Models pages, mounted at `/`."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable
from typing import Any

import gradio as gr
from fastapi import FastAPI, Request

from service.app import Runtime
from service.errors import ArbiterError
from ui.access import authenticated, rater_name
from ui.arena import build_arena
from ui.board import collection_names
from ui.campaign import build_campaign
from ui.dashboard import build_dashboard
from ui.documents import build_documents
from ui.evaluations import build_evaluations
from ui.exports import build_exports
from ui.history import build_history
from ui.i18n import EN, TRANSLATIONS, switch_html, t
from ui.language import LanguageMiddleware
from ui.leaderboard import build_leaderboard
from ui.models import build_models
from ui.side_by_side import build_side_by_side
from ui.signin import SignInMiddleware, sign_in
from ui.tuning import build_tuning
from ui.usecases import build_usecases

CSS = """
.gradio-container { max-width: 1280px !important; width: 100% !important; margin: auto; }
.pane { min-width: min(280px, 100%) !important; }
#arena-status, #named-status { min-height: 1.5em; }
footer { display: none !important; }
/* Many tabs: on a narrow screen the tab buttons wrap instead of widening the page. */
.tab-wrapper { max-width: 100%; height: auto !important; }
.tab-container { flex-wrap: wrap !important; height: auto !important; max-width: 100%; }
#header { flex-wrap: wrap; }
#header-title { min-width: min(300px, 100%) !important; flex: 1 1 300px !important; }
#lang-links a { margin: 0 .25em; white-space: nowrap; }
/* A pane's title sits above its scrolling answers, not over them. */
.pane .bubble-wrap { margin-top: 38px; height: calc(100% - 38px) !important; }
/* On a phone the prompt box comes right after the board's introduction, above the panes
   (below them it was two screens down). */
@media (max-width: 640px) {
  .board-top { order: -2; }
  .prompt-row { order: -1; }
}
/* The dashboard's one legend (hollow rings, as the plots draw points): its names wrap on a
   phone. */
#dash-legend { padding: .35em .5em; }
.dash-legend { display: flex; flex-wrap: wrap; align-items: center; gap: .25em 1.1em; }
.dash-legend-title { font-weight: 600; }
.dash-key { display: inline-flex; align-items: center; gap: .4em; overflow-wrap: anywhere; }
.dash-swatch { flex: none; width: .7em; height: .7em; border: 2px solid; border-radius: 50%; }
/* Tables that open empty sized their columns to nothing and broke the headers inside words
   ("st/at/us", "docum/ent") on a phone: each column at least as wide as a header word (a
   wider table scrolls in its own box). Header and body cells alike, so they stay aligned. */
:is(#eval-runs, #docs-table, #tune-jobs) :is(th, td) { min-width: 7.5em !important; }
.ctx-chunk { white-space: pre-wrap; border-left: 3px solid #c7d2fe; padding: 0 0 0 .75em;
  margin: .25em 0 1em; font-size: .92em; }
"""

# In the page's <head>, not in CSS: Gradio scopes the rules of an @media block in CSS to its
# own container, where `html` is not. The page keeps its width whether or not it is taller
# than the window: a page that needs a scroll bar was 15 px narrower than one that does not
# (Arena, then History). Phones draw scroll bars over the page: nothing to keep there.
HEAD = "<style>@media (min-width: 641px) { html { scrollbar-gutter: stable; } }</style>"

THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate")


# The other sections are pages of their own, each at its own path. They were tabs of the
# one page once; but every tab opened stays mounted, and Gradio's page does work on each
# message for every mounted component and every event ever run: having opened them all
# added some 15-25 ms to the time an arena answer's first token took to show
# (bench/bench_page.py).


def build_ui(runtime: Runtime) -> gr.Blocks:
    """The rater's page (Arena, Side by side, History) at `/`, and a page per other section."""
    # One key for the name saved in the browser, shared by every page's copy of it.
    name_key = secrets.token_urlsafe(16)
    with gr.Blocks(title="Arbiter", analytics_enabled=False) as demo:
        _navbar()
        rater = _header(runtime, demo, name_key, "header.compare")
        with gr.Tabs():
            with gr.Tab(t("tab.arena"), id="arena") as arena_tab:
                arena = build_arena(runtime, rater)
            with gr.Tab(t("tab.named"), id="named") as named_tab:
                named, picker = build_side_by_side(runtime, rater)
            with gr.Tab(t("tab.history"), id="history") as history_tab:
                load_history, history_inputs, history_outputs = build_history(runtime, rater)

        def variant_choices() -> gr.Dropdown:
            return gr.Dropdown(choices=runtime.catalog.names())

        def collection_choices() -> gr.Dropdown:
            return gr.Dropdown(choices=collection_names(runtime))

        named_tab.select(variant_choices, None, [picker], api_visibility="private")
        for tab, board in ((arena_tab, arena), (named_tab, named)):
            tab.select(
                collection_choices, None, [board.layout.collection], api_visibility="private"
            )
        history_tab.select(load_history, history_inputs, history_outputs, api_visibility="private")

    # (name, path, build): build lays the page out and returns what to load when it opens.
    pages: list[tuple[str, str, Callable[[], tuple[Any, list[Any], list[Any]] | None]]] = [
        ("nav.documents", "documents", lambda: build_documents(runtime)),
        (
            "nav.campaign",
            "campaign",
            lambda: build_campaign(runtime, _header(runtime, demo, name_key, "header.campaign")),
        ),
        ("nav.dashboard", "dashboard", lambda: _dashboard(runtime, demo)),
        ("nav.leaderboard", "leaderboard", lambda: build_leaderboard(runtime)),
        ("nav.export", "export", lambda: build_exports(runtime)),
        ("nav.evaluations", "evaluations", lambda: build_evaluations(runtime)),
        ("nav.usecases", "usecases", lambda: build_usecases(runtime)),
        ("nav.tuning", "tuning", lambda: build_tuning(runtime)),
        ("nav.models", "models", lambda: build_models(runtime)),
    ]
    for name, path, build in pages:
        # Gradio's navigation bar shows a route's name as given: the page's language script
        # translates it (ui/i18n.py LANGUAGE_SCRIPT, by path).
        with demo.route(EN[name], f"/{path}"):
            _navbar()
            loader = build()
            if loader is not None:  # what the page shows is read when it opens
                load, inputs, outputs = loader
                demo.load(load, inputs, outputs, api_visibility="private")
    show_progress_on_one_component(demo)
    demo.queue(default_concurrency_limit=None)
    return demo


def _navbar() -> gr.Navbar:
    return gr.Navbar(main_page_name=t("nav.compare"))


def _dashboard(runtime: Runtime, demo: gr.Blocks) -> tuple[Any, list[Any], list[Any]]:
    load, inputs, outputs, timer, live = build_dashboard(runtime)
    # While the page is open it refreshes itself, if "live" is ticked.
    demo.load(lambda on: gr.Timer(active=on), [live], [timer], api_visibility="private")
    return load, inputs, outputs


def _header(runtime: Runtime, demo: gr.Blocks, name_key: str, subtitle: str) -> gr.Textbox:
    """The title, the language switch and the rater's name box (restored from the browser
    on each page). `subtitle` is a key of ui/i18n.py."""
    saved_rater = gr.BrowserState("", storage_key="arbiter-rater", secret=name_key)
    signed_in_mode = runtime.settings.auth != "none"
    with gr.Row(equal_height=True, elem_id="header"):
        gr.Markdown("## Arbiter\n" + t(subtitle) + "\n\n" + switch_html(), elem_id="header-title")
        rater = gr.Textbox(
            # Signed in, labels carry the signed-in name (ui.access.rater_name): the box
            # only shows it.
            label=t("header.signed_in_as") if signed_in_mode else t("header.your_name"),
            placeholder="" if signed_in_mode else t("header.anonymous"),
            interactive=not signed_in_mode,
            max_length=128,
            scale=0,
            min_width=240,
            elem_id="rater",
        )
    if not signed_in_mode:
        # Restore the name typed last time; with none saved, leave the box alone (the user
        # may already be typing while the page loads).
        demo.load(
            lambda saved, typed: (typed or saved) if saved else gr.skip(),
            [saved_rater, rater],
            [rater],
            api_visibility="private",
        )
    else:  # labels carry the signed-in name

        def signed_in(request: gr.Request) -> Any:
            return gr.Textbox(value=rater_name(runtime, request, None), interactive=False)

        demo.load(signed_in, None, [rater], api_visibility="private")
    rater.change(lambda name: name, [rater], [saved_rater], api_visibility="private")
    return rater


def show_progress_on_one_component(demo: gr.Blocks) -> None:
    """Give every event that names no progress target one: its first output that holds a
    short value (text, a choice, a button), or none. Gradio's page keeps the loading status
    of every component any event has ever targeted (by default all its outputs: a tab's
    plots, tables, columns with everything inside) and, on every message of every event,
    refreshes each one by copying its whole value. With the boards' events (ui/board.py)
    doing the same, the time an arena answer's first token takes to show on a page whose
    every tab had been opened went from 95 to about 55 ms over the API's (bench/bench_page.py,
    when all ten sections were tabs of one page)."""
    light = (gr.Markdown, gr.Textbox, gr.Dropdown, gr.Button, gr.Number, gr.Checkbox, gr.Radio)
    for fn in demo.fns.values():
        if fn.show_progress_on is None:
            fn.show_progress_on = [c for c in fn.outputs if isinstance(c, light)][:1]


def mount_ui(app: FastAPI, runtime: Runtime) -> FastAPI:
    """Serve the pages at `/` next to the API (API routes are matched first). With
    ARBITER_AUTH=keys people sign in with their name and password; with `header`, the
    proxy's user header names them."""
    settings = runtime.settings
    auth: dict[str, Any] = {}
    if settings.auth == "keys":

        async def check(name: str, password: str) -> bool:
            return await sign_in(runtime.signin, name, password)

        auth["auth"] = check
        auth["auth_message"] = (
            "Sign in with the name and password an admin gave you. After "
            f"{settings.signin_max_failures} wrong passwords, sign-in under that name is "
            "refused for a while."
        )
        app.add_middleware(SignInMiddleware)
    elif settings.auth == "header":
        auth["auth_dependency"] = lambda request: proxy_user(runtime, request)
    app.add_middleware(LanguageMiddleware)
    with warnings.catch_warnings():
        # Server-side rendering (it needs Node.js) is off in any case; Gradio says so for
        # every multi-page app.
        warnings.filterwarnings("ignore", message="SSR mode is not supported with multi-page")
        return gr.mount_gradio_app(
            app,
            build_ui(runtime),
            path="/",
            theme=THEME,
            css=CSS,
            head=HEAD,
            footer_links=[],
            i18n=gr.I18n(**TRANSLATIONS),
            # Gradio's run history keeps every call's inputs and outputs (prompts, answers,
            # and, after a vote, the names) in the browser's storage, and serializing it on
            # each call was a good part of the page's time to first token.
            run_history=False,
            max_file_size=f"{settings.rag_max_file_mb}mb",
            **auth,
        )


def proxy_user(runtime: Runtime, request: Request) -> str | None:
    try:
        return authenticated(runtime, request).name
    except ArbiterError:
        return None
