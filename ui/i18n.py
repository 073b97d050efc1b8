"""The page's words, in every language it speaks: one dictionary per language, keys named by
meaning. A third language is one more dictionary in `TRANSLATIONS` (and its tag in
`language_of`).

Two paths lead to the reader's language:
- static text (labels, buttons, placeholders, tab names, Markdown written at build time) is a
  Gradio `I18n` key (`t("key")`): the browser translates it with the dictionaries, in the
  language it announces (`navigator.language`);
- text made in Python while the page runs (status lines, warnings, vote messages, footers)
  is translated here (`say(lang, "key", ...)`), in the request's language (`request_language`).

Both read the same choice: the `arbiter-lang` cookie set by the header's language switch
(`?lang=zh-CN`), else the browser's languages (`Accept-Language`, `navigator.languages`).
`LANGUAGE_SCRIPT`, put in every page's <head> by `ui.language.LanguageMiddleware`, makes the
browser side honour the cookie: Gradio's page reads `navigator.language` once, as it starts.

The CLI and the API stay in English."""

from __future__ import annotations

import json
from typing import Any

COOKIE = "arbiter-lang"
DEFAULT_LANGUAGE = "en"
# The switch in the header names each language in itself.
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}

EN: dict[str, str] = {
    # -- header, navigation, page titles
    "app.title": "Arbiter",
    "nav.compare": "Compare",
    "nav.documents": "Documents",
    "nav.campaign": "Campaign",
    "nav.dashboard": "Dashboard",
    "nav.leaderboard": "Leaderboard",
    "nav.export": "Export",
    "nav.evaluations": "Evaluations",
    "nav.usecases": "Use cases",
    "nav.models": "Models",
    "header.compare": "Compare models side by side and say which is better.",
    "header.campaign": "Campaigns: judge items in turn.",
    "header.signed_in_as": "Signed in as",
    "header.your_name": "Your name (stored with your votes)",
    "header.anonymous": "anonymous",
    "header.language": "Language",
    # -- tabs of the compare page
    "tab.arena": "Arena (blind)",
    "tab.named": "Side by side",
    "tab.history": "History",
    # -- a comparison board
    "arena.intro": "Two anonymous models answer the same prompt. Keep chatting as long as you "
    "like, then vote for the better answer — the models' names are revealed after your vote.",
    "named.intro": "Pick two to four variants. Every pane keeps its own conversation with the "
    "same prompts.",
    "named.variants": "Variants, in pane order",
    "named.overrides": "Per-pane parameter overrides (optional)",
    "named.temperature": "temperature",
    "named.max_tokens": "max tokens",
    "board.model": "Model",
    "board.answer_placeholder": "The answer appears here.",
    "board.sources": "Sources given to the models (RAG)",
    "board.use_documents": "Use documents (RAG)",
    "board.collection": "Collection",
    "board.top_k": "Sources per prompt",
    "board.prompt": "Ask something — every model gets the same prompt. Enter to send, "
    "Shift+Enter for a new line.",
    "board.send": "Send",
    "board.stop": "Stop",
    "board.vote_a": "A is better",
    "board.vote_b": "B is better",
    "board.vote_tie": "Tie",
    "board.vote_both_bad": "Both are bad",
    "board.ranking": "Rank the answers, best first",
    "board.submit_ranking": "Submit ranking",
    "board.regenerate": "Regenerate",
    "board.new_round": "New round",
    "rubric.title": "Rate the answers (optional)",
    "rubric.intro": "Score each answer from 1 (poor) to 5 (excellent); leave blank to skip.",
    "rubric.answer": "Answer",
    "rubric.helpfulness": "helpfulness",
    "rubric.honesty": "honesty",
    "rubric.harmlessness": "harmlessness",
    "rubric.comment": "Comment",
    "rubric.ideal": "Ideal answer (prefilled with the preferred one: edit it into what you wanted)",
    "rubric.save": "Save ratings",
    # -- what a board says while it runs
    "status.streaming": "Answers are streaming…",
    "status.new_round": "New round: ask anything.",
    "status.ask_blind": "Which answer is better? Vote to reveal the models.",
    "status.ask_named": "Vote for the better answer.",
    "status.ask_rank": "Rank the answers, best first, then submit the ranking.",
    "status.error": "**Error:** {message} {hint}",
    "status.nothing_running": "Nothing is running.",
    "status.stopped": "Stopped {count} pane(s).",
    "status.saved": "Saved {what}. Thank you!",
    "status.saved_ratings": "{count} rating(s)",
    "status.saved_comment": "a comment",
    "status.saved_ideal": "an ideal answer",
    "status.list_separator": ", ",
    "vote.preferred": "You preferred {winner} over {loser}.",
    "vote.tie": "You called it a tie: {names}.",
    "vote.tie_separator": " vs ",
    "vote.both_bad": "You found both bad: {names}.",
    "vote.both_bad_separator": " and ",
    "vote.ranking": "Your ranking: {names}.",
    "warn.streaming": "The answers are still streaming: wait, or press Stop.",
    "warn.no_prompt": "Type a prompt first.",
    "warn.nothing_to_regenerate": "There is nothing to regenerate yet.",
    "warn.rank_each_once": "Rank every answer exactly once, best first.",
    "warn.wait_then_vote": "Wait until every answer has finished, then vote.",
    "warn.vote_first": "Vote first, then rate.",
    "info.rate_when_finished": "Rate an answer once it has finished.",
    "info.thumbs_latest_only": "Thumbs count for the latest answer only.",
    "pane.error": "Error ({code}): {message}",
    # -- under each answer
    "metrics.first_token": "first token {ms} ms",
    "metrics.total": "total {s} s",
    "metrics.tokens": "tokens {tokens_in} → {tokens_out}",
    "metrics.scores": "scores: {scores}",
    "metrics.error": "**Error ({code})**: {message}",
    "metrics.no_answer": "no answer",
    # -- sources (RAG)
    "context.off": "RAG is off for this turn: the models answer from what they know.",
    "context.empty": "No document matched this prompt: the models got an empty context.",
    "context.page": ", page {page}",
    "context.row": ", row {row}",
    "context.ranked": "Most relevant first; the answers cite them by number.",
    # -- history
    "history.search_placeholder": "Search prompts and answers",
    "history.search": "Search",
    "history.select_row": "Select a row to see the whole turn.",
    "history.more": "More",
    "history.not_yours": "That turn is not one of yours (or no longer exists).",
    "history.col_when": "when (UTC)",
    "history.col_prompt": "prompt",
    "history.col_variants": "variants",
    "history.col_vote": "vote",
    "history.col_turn": "turn id",
    "history.hidden": "(hidden until voted)",
    "history.outcome_a": "A better",
    "history.outcome_b": "B better",
    "history.outcome_tie": "tie",
    "history.outcome_both_bad": "both bad",
    "history.outcome_ranking": "ranked",
    "history.prompt": "Prompt",
    "history.turn_line": "*{mode} · turn {position} · {when} UTC*",
    "history.no_text": "*(no text)*",
    "history.sources": "Sources (RAG, collection {collection})",
    "history.vote": "**Vote:** {vote} (by {rater})",
    "history.comment": "**Comment** by {rater}:",
    "history.ideal": "**Ideal answer** by {rater}:",
    "history.vs": " vs ",
    "history.no_match": "No turn matches this search.",
    "history.empty": "No turns yet: ask something in the Arena or Side by side tab.",
    "history.rubric": "rubric by {rater}: {scores}",
    # -- documents
    "docs.intro": "Documents for retrieval-augmented comparisons. Turn on **Use documents "
    "(RAG)** in the Arena or Side by side tab: the same retrieved sources go to every model.",
    "docs.collection": "Collection",
    "docs.new_collection": "New collection (optional)",
    "docs.new_collection_placeholder": "e.g. handbook",
    "docs.upload": "Upload",
    "docs.text_column": "CSV / JSONL: column with the text (optional)",
    "docs.add": "Add to collection",
    "docs.documents": "Documents",
    "docs.document_id": "Document id",
    "docs.delete": "Delete document",
    "docs.reindex": "Re-index collection",
    "docs.try_search": "Try a search",
    "docs.query": "Query",
    "docs.query_placeholder": "What would you ask?",
    "docs.mode": "Mode",
    "docs.search": "Search",
    "docs.col_id": "id",
    "docs.col_document": "document",
    "docs.col_type": "type",
    "docs.col_chunks": "chunks",
    "docs.col_kib": "KiB",
    "docs.col_updated": "updated (UTC)",
    "docs.no_collection": "No collection yet: type a name under *New collection* and upload files.",
    "docs.summary_kb": "**{name}** retrieves from Bedrock knowledge base `{kb}`; its documents "
    "live in AWS.",
    "docs.summary": "**{name}**: {documents} documents, {chunks} chunks · embeddings {model} "
    "({dimensions} dimensions) · chunks of {size} tokens ({overlap} overlap)",
    "docs.rejected_head": "**{read} of {files} files read; {rejected} rejected** — the rejected "
    "ones are left out of the collection.",
    "docs.warn_no_collection": "Choose a collection, or type a name for a new one.",
    "docs.warn_no_files": "Choose one or more files to upload.",
    "docs.warn_delete": "Choose a collection and type the id of the document to delete.",
    "docs.deleted": "Deleted document {document} ({chunks} chunks).",
    "docs.choose_collection": "Choose a collection first.",
    "docs.reindexed": "Re-indexed {name}: {chunks} chunks.",
    "docs.choose_query": "Choose a collection and type a query.",
    "docs.results": "{count} results in {ms} ms",
    # -- campaign
    "campaign.intro": "Pick a campaign and judge its items one by one: press **Start / next "
    "item**, read the prompt and the two answers, and vote. The models stay anonymous; each "
    "item is judged by several raters, and your votes carry the name at the top of the page.",
    "campaign.name": "Campaign",
    "campaign.next": "Start / next item",
    "campaign.done": "Nothing left for you in this campaign. Thank you!",
    "campaign.item": "Item {n}",
    "campaign.progress": "{completed}/{items} items complete · you judged {mine}",
    "campaign.warn_choose": "Choose a campaign first (or create one below).",
    "campaign.warn_load": "Press Start / next item first: there is no item to vote on yet.",
    "campaign.none_admin": "**No campaign yet.** Create one below: give it a name, paste "
    "prompts (one per line) or upload a file of them, tick 2 to 4 variants and press "
    "**Create campaign**. Raters then open this page, choose it and press **Start / next item**.",
    "campaign.none_rater": "**No campaign is open to you yet.** An admin creates campaigns on "
    "this page; reload it once they have.",
    "campaign.generating": "The answers are still being generated: {answered} of {items} items "
    "ready. Press **Start / next item** again in a moment.",
    "campaign.create": "Create a campaign",
    "campaign.new_name": "Name",
    "campaign.prompts": "Prompts, one per line",
    "campaign.prompts_placeholder": "What is the capital of France?\nExplain photosynthesis "
    "in two sentences.",
    "campaign.file": "Or a file of prompts: .txt (one per line), .jsonl or .csv (a prompt column)",
    "campaign.variants": "Variants to compare (2 to 4)",
    "campaign.per_item": "Raters per item",
    "campaign.create_button": "Create campaign",
    "campaign.not_created": "**Not created.**",
    "campaign.created": "Created campaign **{name}** with {items} items. Their answers are "
    "being generated: choose it above and press **Start / next item**.",
    # -- dashboard
    "dash.window": "Window",
    "dash.window_hour": "Last hour",
    "dash.window_day": "Last 24 hours",
    "dash.window_week": "Last 7 days",
    "dash.window_month": "Last 30 days",
    "dash.time_axis": "time (your time zone)",
    "dash.all_traffic": "(all traffic)",
    "dash.empty": "**Nothing to plot — {window}.** The charts fill as models answer: ask "
    "something on the [Compare](/) page, or start a run on [Evaluations](/evaluations), then "
    "come back here (it refreshes itself). Or pick a longer window.",
    "dash.missing": "No data in this window for: {measures}.",
    "dash.use_case": "Use case",
    "dash.live": "Refresh every 15 s",
    "dash.refresh": "Refresh",
    "dash.goals": "**Goals of {name}** ({window}): {verdict}",
    "dash.goals_met": "all targets met by {variants}.",
    "dash.goals_none": "no variant meets every target.",
    "dash.plot_latency_p50": "Latency p50 (s)",
    "dash.plot_latency_p90": "Latency p90 (s)",
    "dash.plot_latency_p99": "Latency p99 (s)",
    "dash.plot_ttft_p50": "Time to first token p50 (s)",
    "dash.plot_throughput": "Throughput (answers per minute)",
    "dash.plot_error_rate": "Error rate",
    "dash.plot_cost": "Cost (USD per bucket)",
    "dash.plot_scores": "Automatic scores (mean)",
    "dash.plot_win_rate": "Preference win rate (ties count half)",
    "dash.plot_satisfaction": "Satisfaction (share of thumbs up)",
    # -- leaderboard
    "lb.votes_from": "Votes from",
    "lb.turns": "Turns",
    "lb.all": "all",
    "lb.arena": "arena",
    "lb.named": "named",
    "lb.with_rag": "with RAG",
    "lb.without_rag": "without RAG",
    "lb.since": "Since (YYYY-MM-DD, UTC)",
    "lb.tag": "Tag",
    "lb.refresh": "Refresh",
    "lb.elo": "Online Elo",
    "lb.elo_info": "Every vote in order; the first time replays them all, then only new or changed ones.",
    "lb.preference": "### Preference (human votes)",
    "lb.win_rates": "#### Win rates (row against column, ties count half)",
    "lb.quality": "### Absolute quality (rubric ratings, 1-5)",
    "lb.bad_date": "Write the date as YYYY-MM-DD.",
    "lb.battles": "{battles} battles. {rules}",
    "lb.no_votes": "No votes with these filters yet.",
    "lb.col_rank": "rank",
    "lb.col_variant": "variant",
    "lb.col_rating": "rating",
    "lb.col_ci": "95% CI",
    "lb.col_battles": "battles",
    "lb.col_win_rate": "win rate",
    "lb.col_elo": "Elo",
    "lb.col_ratings": "ratings",
    "lb.ci": "{low} to {high}",
    # service.labels.LEADERBOARD_RULES, word for word (tests/unit/test_i18n.py checks)
    "lb.rules": "Bradley-Terry on live votes (a changed vote replaces the rater's earlier one); "
    "both-bad counts as a tie, a tie as half a win each; a ranking of N answers counts as every "
    "pairwise win it implies. A weak prior pulls a variant with few votes toward the average "
    "(1000). 95% CIs by bootstrap over votes; ranks tie where CIs overlap.",
    "lb.few_votes": "**Few votes: ratings are rough.** Fewer than {few} battles: {variants}. "
    "Their ratings may move a lot with the next votes.",
    "lb.rating_vs_elo": "*rating*: Bradley-Terry fitted on all votes at once, whatever their "
    "order · *Elo*: updated vote by vote as they came (online, so the order changes it).",
    # -- export
    "export.intro": "Votes, ratings and ideal answers as a training dataset. Each record keeps "
    "its provenance (turn, variants, parameters, RAG chunks, panes, rater, time); personal "
    "data (emails, phone numbers, keys) is redacted unless you turn it off.",
    "export.format": "Format",
    "export.file": "File",
    "export.votes_from": "Votes from",
    "export.test_split": "Test split (share of prompts)",
    "export.exclude_ties": "KTO: leave out ties and both-bad",
    "export.redact": "Redact personal data",
    "export.dry_run": "Dry run",
    "export.export": "Export",
    "export.files": "Files",
    "export.summary": "**{records} records** of `{format}`. {head}  \nSplits: {splits} · "
    "balance: {balance}  \nSkipped: {skipped} · duplicates dropped: {duplicates} · "
    "redacted: {redacted}",
    "export.dry": "Dry run, nothing written.",
    "export.written": "Written.",
    "export.none": "none",
    "export.when_written": "counted when written",
    "export.counting": "  \nCounting duplicates and redactions…",
    "export.labels_read": "labels read",
    "export.labels": "labels",
    # -- evaluations
    "eval.intro": "Answer every example of a dataset with each variant, score the answers, "
    "and compare. Datasets are JSONL or CSV with `prompt` (or `question`), `reference` and "
    "optional `id` and `contexts`. Leave the file empty to use the bundled example (questions "
    "on the sample corpus).",
    "eval.dataset": "Dataset (.jsonl or .csv)",
    "eval.variants": "Variants",
    "eval.metrics": "Metrics",
    "eval.collection": "Retrieve context from",
    "eval.judge": "Rubric judge (optional)",
    "eval.backend": "Backend",
    "eval.backend_info": "online: calls from this server. bedrock-batch: Bedrock batch "
    "inference jobs (half price, hours; at least 100 examples). sagemaker-transform: batch "
    "transform on the endpoints' models. Batch backends need ARBITER_BATCH_S3_URI; context "
    "from a collection is retrieved here and sent in each record.",
    "eval.start": "Start run",
    "eval.runs": "Runs",
    "eval.run_id": "Run id (click a row)",
    "eval.show": "Show report",
    "eval.warn_variants": "Choose at least one variant.",
    "eval.col_status": "status",
    "eval.col_answers": "answers",
    "eval.col_dataset": "dataset",
    "eval.col_variants": "variants",
    "eval.col_metrics": "metrics",
    "eval.col_started": "started (UTC)",
    "eval.col_run": "run id",
    "eval.status_running": "Running",
    "eval.status_done": "Finished",
    "eval.status_failed": "Failed",
    "eval.progress_counts": "{done} of {total} answers",
    "eval.progress_errors": "{errors} failed",
    "eval.progress_elapsed": "{time} elapsed",
    "eval.progress_left": "about {time} left",
    "eval.progress_running_next": "Each answer is scored and stored as it finishes; this "
    "updates every 2 seconds.",
    "eval.progress_done_next": "Read the report: Show report, below the table.",
    "eval.progress_failed_next": "The run stopped; its stored answers are kept. "
    "`arbiter eval run DATASET --resume RUN_ID` goes on from there.",
    "eval.warn_run": "Pick a run first (click its row).",
    # -- use cases
    "uc.intro": "A use case names the candidate variants and measurable targets (`metric "
    "operator number`). Each variant is shown against each target — met, missed or not enough "
    "data — with its 95% confidence interval. Counted toward a use case: traffic sent with "
    '`"use_case"` (API), eval runs of its datasets (**Run its datasets** below, or `arbiter '
    "usecase run`), and evaluations of its variants on the same dataset file (same content) "
    "from the Evaluations page.",
    "uc.name": "Use case",
    "uc.days": "Window (days; 0: the use case's own)",
    "uc.run": "Run its datasets",
    "uc.run_starting": "Starting the run: loading its datasets and documents…",
    "uc.run_progress": "Running: {done} of {total} answers scored ({errors} errors). You can "
    "leave the page: the run goes on.",
    "uc.run_done": "Run finished: {answers} answers scored. Where the use case stands:",
    "uc.run_failed": "**The run stopped.**",
    "uc.no_data": "**No data yet** for {name} in this window. Next step: press **Run its "
    "datasets** to answer them with every variant and score the answers (the bundled example "
    "takes a minute or two), or send traffic tagged with this use case.",
    "uc.no_data_yet": "no data yet",
    "uc.baseline": "Baseline",
    "uc.show": "Show status and report",
    "uc.goal_status": "Goal status",
    "uc.define": "Define or edit a use case",
    "uc.editor": "Use case (YAML)",
    "uc.example": "Example:",
    "uc.save": "Save",
    "uc.yes": "yes",
    "uc.no": "no",
    "uc.all_met": "all targets met",
    "uc.own_baseline": "(its own)",
    "uc.open_report": "Open the report in a new tab",
    "uc.window": "Window: {window}.",
    "uc.choose": "Choose a use case, or define one below.",
    "uc.not_saved": "**Not saved.**",
    "uc.created": "Created use case **{name}**: {variants} variants, {targets} targets.",
    "uc.updated": "Updated use case **{name}**: {variants} variants, {targets} targets.",
    "uc.tuned_title": "Base vs tuned",
    "uc.tuned_rule": "Rule: promote when the 95% Wilson interval of the tuned model's win rate "
    "over its base (blind campaign votes; ties and both-bad left out) lies wholly above 50%; keep "
    "the base when it lies wholly below 50%; otherwise not enough data yet. Eval-run means (95% "
    "bootstrap intervals) are shown beside it, not counted in the rule.",
    "uc.tuned_col_tuned": "tuned variant",
    "uc.tuned_col_base": "base",
    "uc.tuned_col_votes": "votes (wins-losses-ties)",
    "uc.tuned_col_win": "win rate (95% CI)",
    "uc.tuned_col_metric": "eval metric",
    "uc.tuned_col_diff": "difference (95% CI)",
    "uc.tuned_promote": "Promote {tuned}: it beats {base} in blind votes.",
    "uc.tuned_keep_base": "Keep {base}: it beats its tuned {tuned} in blind votes.",
    "uc.tuned_not_enough": "Not enough data yet for {tuned} vs {base}: collect more votes in "
    "campaign {campaign}.",
    "uc.tuned_no_metrics": "{tuned} vs {base}: no eval-run answers of both yet.",
    # -- tuning page
    "nav.tuning": "Tuning",
    "tune.intro": "Fine-tuning jobs started from the labels (`arbiter tune create`): each "
    "job's state as the cloud reports it, its losses, and the tuned variant it became. "
    "Unfinished jobs move on by themselves (the service asks the cloud every "
    "ARBITER_TUNING_POLL_SECONDS); **Refresh** asks now.",
    "tune.refresh": "Refresh",
    "tune.jobs": "Tuning jobs",
    "tune.pick": "Lineage of",
    "tune.none": "No tuning jobs yet. Start one with `arbiter tune create --help`.",
    "tune.col.job": "job",
    "tune.col.base": "base variant",
    "tune.col.state": "state",
    "tune.col.said": "the cloud says",
    "tune.col.loss": "training loss",
    "tune.col.variant": "tuned variant",
    "tune.lineage": "**{name}** — {method} on {target}, from **{base}** (`{model}`)\n\n"
    "- job: `{job}`\n- dataset sha256: `{sha}` ({records} records; built from {votes} votes "
    "and {ideals} ideal answers)\n- export options: `{options}`\n- hyperparameters: "
    "`{hps}`\n- served by: {serving}\n- comparison: campaign {campaign}, eval runs {runs}",
    "tune.price": "Provisioned throughput costs ${price}/hour: accept it with "
    "`arbiter tune deploy {name} --accept-price`.",
    # -- models page (discovery)
    "models.intro": "Models your AWS account offers: Bedrock foundation models and inference "
    "profiles, SageMaker endpoints and inference components. Pick one and add it as a variant: "
    "it is in the comparison pickers at once. Admins only.",
    "models.services": "Look in",
    "models.region": "Region",
    "models.region_placeholder": "default: the server's AWS region",
    "models.discover": "Discover",
    "models.pick": "Model to add",
    "models.name": "Variant name",
    "models.name_placeholder": "default: from the model's id",
    "models.adapter": "SageMaker payload adapter",
    "models.add": "Add as variant",
    "models.col_id": "id",
    "models.col_provider": "provider",
    "models.col_modalities": "input → output",
    "models.col_streaming": "streaming",
    "models.col_adapter": "adapter",
    "models.col_notes": "notes",
    "models.yes": "yes",
    "models.no": "no",
    "models.default_region": "the default region",
    "models.found": "**{count}** models found in {region}.",
    "models.problem": "⚠️ {service} could not be listed ({code}): {message}",
    "models.pick_service": "Tick Bedrock, SageMaker or both.",
    "models.pick_first": "Discover the models first, then pick one.",
    "models.not_added": "**Not added.** {message}",
    "models.added": "Added variant **{name}** ({model}): it is in the comparison pickers now.",
}

ZH_CN: dict[str, str] = {
    "app.title": "Arbiter",
    "nav.compare": "对比",
    "nav.documents": "文档",
    "nav.campaign": "标注任务",
    "nav.dashboard": "仪表盘",
    "nav.leaderboard": "排行榜",
    "nav.export": "导出",
    "nav.evaluations": "评测",
    "nav.usecases": "用例",
    "nav.models": "模型",
    "header.compare": "并排对比多个模型，选出更好的回答。",
    "header.campaign": "标注任务：逐条评判。",
    "header.signed_in_as": "当前登录",
    "header.your_name": "你的名字（随投票一起保存）",
    "header.anonymous": "匿名",
    "header.language": "语言",
    "tab.arena": "竞技场（盲评）",
    "tab.named": "并排对比",
    "tab.history": "历史记录",
    "arena.intro": "两个匿名模型回答同一个问题。你可以随意多轮对话，然后投票选出更好的回答——"
    "投票后才会揭晓模型名称。",
    "named.intro": "选择两到四个模型变体。每个窗格各自保留对话，收到的提示词相同。",
    "named.variants": "模型变体（按窗格顺序）",
    "named.overrides": "各窗格的参数覆盖（可选）",
    "named.temperature": "温度",
    "named.max_tokens": "最大 token 数",
    "board.model": "模型",
    "board.answer_placeholder": "回答将显示在这里。",
    "board.sources": "提供给模型的参考来源（RAG）",
    "board.use_documents": "使用文档（RAG）",
    "board.collection": "文档集",
    "board.top_k": "来源数",
    "board.prompt": "输入你的问题——每个模型收到相同的提示词。按 Enter 发送，Shift+Enter 换行。",
    "board.send": "发送",
    "board.stop": "停止",
    "board.vote_a": "A 更好",
    "board.vote_b": "B 更好",
    "board.vote_tie": "平局",
    "board.vote_both_bad": "都不好",
    "board.ranking": "为回答排序（最好的在前）",
    "board.submit_ranking": "提交排序",
    "board.regenerate": "重新生成",
    "board.new_round": "新一轮",
    "rubric.title": "为回答打分（可选）",
    "rubric.intro": "为每个回答打 1 分（差）到 5 分（优秀）；留空则跳过。",
    "rubric.answer": "回答",
    "rubric.helpfulness": "有用性",
    "rubric.honesty": "诚实性",
    "rubric.harmlessness": "无害性",
    "rubric.comment": "评论",
    "rubric.ideal": "理想回答（已预填你选中的回答：把它改成你想要的样子）",
    "rubric.save": "保存评分",
    "status.streaming": "回答生成中…",
    "status.new_round": "新一轮：请随意提问。",
    "status.ask_blind": "哪个回答更好？投票后揭晓模型。",
    "status.ask_named": "请为更好的回答投票。",
    "status.ask_rank": "请为回答排序（最好的在前），然后提交排序。",
    "status.error": "**错误：**{message} {hint}",
    "status.nothing_running": "当前没有正在运行的生成。",
    "status.stopped": "已停止 {count} 个窗格。",
    "status.saved": "已保存{what}。谢谢！",
    "status.saved_ratings": " {count} 项评分",
    "status.saved_comment": "一条评论",
    "status.saved_ideal": "一个理想回答",
    "status.list_separator": "、",
    "vote.preferred": "你认为 {winner} 优于 {loser}。",
    "vote.tie": "你判为平局：{names}。",
    "vote.tie_separator": " 对 ",
    "vote.both_bad": "你认为两者都不好：{names}。",
    "vote.both_bad_separator": " 和 ",
    "vote.ranking": "你的排序：{names}。",
    "warn.streaming": "回答仍在生成：请稍候，或点击“停止”。",
    "warn.no_prompt": "请先输入问题。",
    "warn.nothing_to_regenerate": "还没有可以重新生成的内容。",
    "warn.rank_each_once": "请为每个回答排序且只排一次，最好的在前。",
    "warn.wait_then_vote": "请等所有回答生成完毕后再投票。",
    "warn.vote_first": "请先投票，再打分。",
    "info.rate_when_finished": "回答生成完毕后才能评价。",
    "info.thumbs_latest_only": "点赞/点踩只对最新的回答有效。",
    "pane.error": "错误（{code}）：{message}",
    "metrics.first_token": "首 token {ms} 毫秒",
    "metrics.total": "总耗时 {s} 秒",
    "metrics.tokens": "token {tokens_in} → {tokens_out}",
    "metrics.scores": "自动评分：{scores}",
    "metrics.error": "**错误（{code}）**：{message}",
    "metrics.no_answer": "没有回答",
    "context.off": "本轮未开启 RAG：模型仅凭自身知识回答。",
    "context.empty": "没有文档与该问题匹配：模型收到的上下文为空。",
    "context.page": "，第 {page} 页",
    "context.row": "，第 {row} 行",
    "context.ranked": "按相关度从高到低排列；回答中以编号引用。",
    "history.search_placeholder": "搜索提示词和回答",
    "history.search": "搜索",
    "history.select_row": "选择一行以查看完整的一轮对话。",
    "history.more": "加载更多",
    "history.not_yours": "这一轮不属于你（或已不存在）。",
    "history.col_when": "时间（UTC）",
    "history.col_prompt": "提示词",
    "history.col_variants": "模型变体",
    "history.col_vote": "投票",
    "history.col_turn": "轮次 ID",
    "history.hidden": "（投票后显示）",
    "history.outcome_a": "A 更好",
    "history.outcome_b": "B 更好",
    "history.outcome_tie": "平局",
    "history.outcome_both_bad": "都不好",
    "history.outcome_ranking": "已排序",
    "history.prompt": "提示词",
    "history.turn_line": "*{mode} · 第 {position} 轮 · {when} UTC*",
    "history.no_text": "*（无文本）*",
    "history.sources": "参考来源（RAG，文档集 {collection}）",
    "history.vote": "**投票：**{vote}（{rater}）",
    "history.comment": "**评论**（{rater}）：",
    "history.ideal": "**理想回答**（{rater}）：",
    "history.vs": " 对 ",
    "history.no_match": "没有与此搜索匹配的轮次。",
    "history.empty": "还没有对话：请在“竞技场”或“并排对比”标签页中提问。",
    "history.rubric": "{rater} 的评分：{scores}",
    "docs.intro": "用于检索增强（RAG）对比的文档。在“竞技场”或“并排对比”标签页中勾选"
    "**使用文档（RAG）**：每个模型都会收到相同的检索结果。",
    "docs.collection": "文档集",
    "docs.new_collection": "新建文档集（可选）",
    "docs.new_collection_placeholder": "例如 handbook",
    "docs.upload": "上传",
    "docs.text_column": "CSV / JSONL：正文所在的列（可选）",
    "docs.add": "添加到文档集",
    "docs.documents": "文档",
    "docs.document_id": "文档 ID",
    "docs.delete": "删除文档",
    "docs.reindex": "重建文档集索引",
    "docs.try_search": "试一试检索",
    "docs.query": "查询",
    "docs.query_placeholder": "你想问什么？",
    "docs.mode": "检索方式",
    "docs.search": "检索",
    "docs.col_id": "ID",
    "docs.col_document": "文档",
    "docs.col_type": "类型",
    "docs.col_chunks": "文本块",
    "docs.col_kib": "大小（KiB）",
    "docs.col_updated": "更新时间（UTC）",
    "docs.no_collection": "还没有文档集：在*新建文档集*中输入名称并上传文件。",
    "docs.summary_kb": "**{name}** 从 Bedrock 知识库 `{kb}` 检索；其文档存放在 AWS 中。",
    "docs.summary": "**{name}**：{documents} 个文档，{chunks} 个文本块 · 向量模型 {model}"
    "（{dimensions} 维）· 每块 {size} 个 token（重叠 {overlap} 个）",
    "docs.rejected_head": "**已读取 {files} 个文件中的 {read} 个；{rejected} 个被拒绝**——"
    "被拒绝的文件不会加入文档集。",
    "docs.warn_no_collection": "请选择一个文档集，或输入新文档集的名称。",
    "docs.warn_no_files": "请选择要上传的文件。",
    "docs.warn_delete": "请选择文档集，并输入要删除的文档 ID。",
    "docs.deleted": "已删除文档 {document}（{chunks} 个文本块）。",
    "docs.choose_collection": "请先选择一个文档集。",
    "docs.reindexed": "已重建 {name} 的索引：{chunks} 个文本块。",
    "docs.choose_query": "请选择文档集并输入查询。",
    "docs.results": "{count} 条结果，用时 {ms} 毫秒",
    "campaign.intro": "选择一个标注任务，逐条评判其中的条目：点击 **开始 / 下一条**，阅读提示词和两个回答，"
    "然后投票。模型保持匿名；每个条目由多位标注员评判，你的投票记在页面顶部的名字下。",
    "campaign.name": "标注任务",
    "campaign.next": "开始 / 下一条",
    "campaign.done": "这个标注任务里已经没有需要你评判的条目了。谢谢！",
    "campaign.item": "第 {n} 条",
    "campaign.progress": "已完成 {completed}/{items} 条 · 你已评判 {mine} 条",
    "campaign.warn_choose": "请先选择一个标注任务（或在下方创建一个）。",
    "campaign.warn_load": "请先点击“开始 / 下一条”：还没有可投票的条目。",
    "campaign.none_admin": "**还没有标注任务。** 在下方创建一个：起个名字，粘贴提示词（每行一个）或上传提示词文件，"
    "勾选 2 到 4 个模型变体，然后点击 **创建标注任务**。标注员随后打开本页，选择它并点击 **开始 / 下一条**。",
    "campaign.none_rater": "**还没有向你开放的标注任务。** 管理员在本页创建标注任务；创建后请刷新本页。",
    "campaign.generating": "回答仍在生成中：{items} 条中已有 {answered} 条就绪。请稍后再点击 **开始 / 下一条**。",
    "campaign.create": "创建标注任务",
    "campaign.new_name": "名称",
    "campaign.prompts": "提示词，每行一个",
    "campaign.prompts_placeholder": "法国的首都是哪里？\n用两句话解释光合作用。",
    "campaign.file": "或上传提示词文件：.txt（每行一个）、.jsonl 或 .csv（含 prompt 列）",
    "campaign.variants": "要比较的模型变体（2 到 4 个）",
    "campaign.per_item": "每个条目的标注员人数",
    "campaign.create_button": "创建标注任务",
    "campaign.not_created": "**未创建。**",
    "campaign.created": "已创建标注任务 **{name}**，共 {items} 条。回答正在生成：请在上方选择它并点击 **开始 / 下一条**。",
    "dash.window": "时间范围",
    "dash.window_hour": "最近 1 小时",
    "dash.window_day": "最近 24 小时",
    "dash.window_week": "最近 7 天",
    "dash.window_month": "最近 30 天",
    "dash.time_axis": "时间（你的时区）",
    "dash.all_traffic": "（全部流量）",
    "dash.empty": "**没有可显示的数据——{window}。** 模型回答后图表才会有数据：在[对比](/)页面提一个问题，"
    "或在[评测](/evaluations)页面开始一次评测，然后回到这里（页面会自动刷新）。也可以选择更长的时间范围。",
    "dash.missing": "此时间范围内没有数据：{measures}。",
    "dash.use_case": "用例",
    "dash.live": "每 15 秒刷新",
    "dash.refresh": "刷新",
    "dash.goals": "**{name} 的目标**（{window}）：{verdict}",
    "dash.goals_met": "{variants} 达成了全部目标。",
    "dash.goals_none": "没有模型变体达成全部目标。",
    "dash.plot_latency_p50": "延迟 p50（秒）",
    "dash.plot_latency_p90": "延迟 p90（秒）",
    "dash.plot_latency_p99": "延迟 p99（秒）",
    "dash.plot_ttft_p50": "首 token 延迟 p50（秒）",
    "dash.plot_throughput": "吞吐量（每分钟回答数）",
    "dash.plot_error_rate": "错误率",
    "dash.plot_cost": "成本（每个时间段，美元）",
    "dash.plot_scores": "自动评分（均值）",
    "dash.plot_win_rate": "偏好胜率（平局计一半）",
    "dash.plot_satisfaction": "满意度（点赞占比）",
    "lb.votes_from": "投票来源",
    "lb.turns": "轮次",
    "lb.all": "全部",
    "lb.arena": "竞技场",
    "lb.named": "并排对比",
    "lb.with_rag": "使用 RAG",
    "lb.without_rag": "不使用 RAG",
    "lb.since": "起始日期（YYYY-MM-DD，UTC）",
    "lb.tag": "标签",
    "lb.refresh": "刷新",
    "lb.elo": "在线 Elo",
    "lb.elo_info": "按时间顺序计入每一票；首次重放全部，之后只算新增或改动的票。",
    "lb.preference": "### 偏好排名（人工投票）",
    "lb.win_rates": "#### 胜率（行对列，平局计半场）",
    "lb.quality": "### 绝对质量（评分量表，1-5 分）",
    "lb.bad_date": "日期格式应为 YYYY-MM-DD。",
    "lb.battles": "共 {battles} 场对战。{rules}",
    "lb.no_votes": "在这些筛选条件下还没有投票。",
    "lb.col_rank": "排名",
    "lb.col_variant": "模型变体",
    "lb.col_rating": "评分",
    "lb.col_ci": "95% 置信区间",
    "lb.col_battles": "对战数",
    "lb.col_win_rate": "胜率",
    "lb.col_elo": "Elo",
    "lb.col_ratings": "评分次数",
    "lb.ci": "{low} 至 {high}",
    "lb.rules": "基于有效投票拟合 Bradley-Terry 模型（标注员修改投票后以新票为准）；“都不好”计为平局，"
    "平局双方各计半场胜利；N 个回答的排序计为其隐含的所有两两胜负。一个较弱的先验会把票数少的模型"
    "变体拉向平均分（1000）。95% 置信区间由对投票的自助法（bootstrap）得出；置信区间重叠的模型并列"
    "排名。",
    "lb.few_votes": "**票数较少：评分仅供粗略参考。** 对战少于 {few} 场的模型变体：{variants}。"
    "后续投票可能使其评分大幅变动。",
    "lb.rating_vs_elo": "*评分*：对全部投票一次性拟合的 Bradley-Terry，与投票顺序无关 · *Elo*："
    "按投票先后逐票更新（在线计算，顺序不同结果也不同）。",
    "export.intro": "把投票、评分和理想回答导出为训练数据集。每条记录都保留来源信息（轮次、模型变体、"
    "参数、RAG 文本块、窗格、标注员、时间）；个人信息（邮箱、电话号码、密钥）默认脱敏，可关闭。",
    "export.format": "格式",
    "export.file": "文件类型",
    "export.votes_from": "投票来源",
    "export.test_split": "测试集比例（按提示词）",
    "export.exclude_ties": "KTO：排除平局和“都不好”",
    "export.redact": "个人信息脱敏",
    "export.dry_run": "试运行",
    "export.export": "导出",
    "export.files": "文件",
    "export.summary": "`{format}` 格式，**共 {records} 条记录**。{head}  \n数据划分：{splits} · "
    "类别分布：{balance}  \n跳过：{skipped} · 去除重复：{duplicates} · 脱敏：{redacted}",
    "export.dry": "试运行，未写入任何文件。",
    "export.written": "已写入。",
    "export.none": "无",
    "export.when_written": "写入时统计",
    "export.counting": "  \n正在统计重复项和脱敏项…",
    "export.labels_read": "已读取的标注",
    "export.labels": "条标注",
    "eval.intro": "用每个模型变体回答数据集中的每个样例，为回答评分并进行比较。数据集为 JSONL 或 CSV，"
    "包含 `prompt`（或 `question`）、`reference`，以及可选的 `id` 和 `contexts`。不上传文件则使用"
    "内置示例（基于示例语料的问题）。",
    "eval.dataset": "数据集（.jsonl 或 .csv）",
    "eval.variants": "模型变体",
    "eval.metrics": "评测指标",
    "eval.collection": "检索上下文的文档集",
    "eval.judge": "评分裁判模型（可选）",
    "eval.backend": "运行方式",
    "eval.backend_info": "online：由本服务器逐条调用。bedrock-batch：Bedrock 批量推理作业（半价，"
    "需数小时，至少 100 个样例）。sagemaker-transform：在端点的模型上运行批量转换作业。"
    "批量方式需设置 ARBITER_BATCH_S3_URI；所选文档集的上下文在本服务器检索后随每条记录发送。",
    "eval.start": "开始评测",
    "eval.runs": "评测运行",
    "eval.run_id": "运行 ID（点击一行）",
    "eval.show": "查看报告",
    "eval.warn_variants": "请至少选择一个模型变体。",
    "eval.col_status": "状态",
    "eval.col_answers": "回答数",
    "eval.col_dataset": "数据集",
    "eval.col_variants": "模型变体",
    "eval.col_metrics": "评测指标",
    "eval.col_started": "开始时间（UTC）",
    "eval.col_run": "运行 ID",
    "eval.status_running": "进行中",
    "eval.status_done": "已完成",
    "eval.status_failed": "失败",
    "eval.progress_counts": "已完成 {done}/{total} 个回答",
    "eval.progress_errors": "{errors} 个失败",
    "eval.progress_elapsed": "已用时 {time}",
    "eval.progress_left": "预计还需 {time}",
    "eval.progress_running_next": "每个回答完成后即评分并保存；此处每 2 秒更新一次。",
    "eval.progress_done_next": "查看报告：点击表格下方的“查看报告”。",
    "eval.progress_failed_next": "评测已停止，已保存的回答会保留。"
    "`arbiter eval run DATASET --resume RUN_ID` 可从中断处继续。",
    "eval.warn_run": "请先选择一次评测运行（点击所在行）。",
    "uc.intro": "用例列出候选模型变体和可度量的目标（`指标 运算符 数值`）。每个变体都会对照每个目标"
    '显示——达成、未达成或数据不足——并给出 95% 置信区间。通过 API 发送时带上 `"use_case"` '
    "的流量、对其数据集的评测（下方的 **运行其数据集**，或 `arbiter usecase run`），以及在评测页面用同一数据集文件"
    "（内容相同）对其模型变体做的评测，都计入该用例。",
    "uc.name": "用例",
    "uc.days": "时间范围（天；0 表示用例自身的设置）",
    "uc.run": "运行其数据集",
    "uc.run_starting": "正在启动运行：加载数据集和文档…",
    "uc.run_progress": "运行中：已评分 {done}/{total} 个回答（{errors} 个错误）。可以离开本页，运行会继续。",
    "uc.run_done": "运行完成：已评分 {answers} 个回答。用例当前状态：",
    "uc.run_failed": "**运行已停止。**",
    "uc.no_data": "{name} 在此时间范围内**还没有数据**。下一步：点击 **运行其数据集**，用每个模型变体回答并评分"
    "（自带示例约需一两分钟），或发送标记了此用例的流量。",
    "uc.no_data_yet": "还没有数据",
    "uc.baseline": "基线",
    "uc.show": "查看状态和报告",
    "uc.goal_status": "目标达成情况",
    "uc.define": "定义或编辑用例",
    "uc.editor": "用例（YAML）",
    "uc.example": "示例：",
    "uc.save": "保存",
    "uc.yes": "是",
    "uc.no": "否",
    "uc.all_met": "全部目标达成",
    "uc.own_baseline": "（用例自身的基线）",
    "uc.open_report": "在新标签页中打开报告",
    "uc.window": "时间范围：{window}。",
    "uc.choose": "请选择一个用例，或在下方定义一个。",
    "uc.not_saved": "**未保存。**",
    "uc.created": "已创建用例 **{name}**：{variants} 个模型变体，{targets} 个目标。",
    "uc.updated": "已更新用例 **{name}**：{variants} 个模型变体，{targets} 个目标。",
    "uc.tuned_title": "基础模型与微调模型对比",
    "uc.tuned_rule": "规则：微调模型相对基础模型的胜率（盲评标注任务的投票；平局和都不好不计）的 95% "
    "Wilson 区间整体高于 50% 时建议上线；整体低于 50% 时保留基础模型；否则数据还不够。评测运行的均值"
    "（95% bootstrap 区间）列在旁边，不计入规则。",
    "uc.tuned_col_tuned": "微调变体",
    "uc.tuned_col_base": "基础变体",
    "uc.tuned_col_votes": "投票（胜-负-平）",
    "uc.tuned_col_win": "胜率（95% 置信区间）",
    "uc.tuned_col_metric": "评测指标",
    "uc.tuned_col_diff": "差值（95% 置信区间）",
    "uc.tuned_promote": "建议上线 {tuned}：它在盲评投票中胜过 {base}。",
    "uc.tuned_keep_base": "保留 {base}：它在盲评投票中胜过其微调模型 {tuned}。",
    "uc.tuned_not_enough": "{tuned} 与 {base} 的数据还不够：请在标注任务 {campaign} 中收集更多投票。",
    "uc.tuned_no_metrics": "{tuned} 与 {base}：两者都还没有评测运行的回答。",
    # -- tuning page
    "nav.tuning": "微调",
    "tune.intro": "由标注数据启动的微调任务（`arbiter tune create`）：云端报告的任务状态、"
    "损失，以及由此得到的微调变体。未完成的任务会自动推进（服务每隔 ARBITER_TUNING_POLL_SECONDS "
    "秒向云端查询一次）；**刷新**会立即查询。",
    "tune.refresh": "刷新",
    "tune.jobs": "微调任务",
    "tune.pick": "查看谱系",
    "tune.none": "还没有微调任务。用 `arbiter tune create --help` 开始一个。",
    "tune.col.job": "任务",
    "tune.col.base": "基础变体",
    "tune.col.state": "状态",
    "tune.col.said": "云端状态",
    "tune.col.loss": "训练损失",
    "tune.col.variant": "微调后的变体",
    "tune.lineage": "**{name}** — 在 {target} 上以 {method} 微调，基于 **{base}**（`{model}`）\n\n"
    "- 任务：`{job}`\n- 数据集 sha256：`{sha}`（{records} 条记录；来自 {votes} 次投票和 "
    "{ideals} 条理想回答）\n- 导出选项：`{options}`\n- 超参数：`{hps}`\n- 部署方式：{serving}\n"
    "- 对比：标注活动 {campaign}，评测运行 {runs}",
    "tune.price": "预置吞吐量每小时 ${price}：用 `arbiter tune deploy {name} --accept-price` 确认。",
    "models.intro": "你的 AWS 账号可用的模型：Bedrock 基础模型和推理配置文件，SageMaker 端点和推理组件。"
    "选择一个并添加为模型变体，它会立即出现在对比选择列表中。仅限管理员。",
    "models.services": "查找范围",
    "models.region": "区域",
    "models.region_placeholder": "默认：服务器的 AWS 区域",
    "models.discover": "发现模型",
    "models.pick": "要添加的模型",
    "models.name": "变体名称",
    "models.name_placeholder": "默认：由模型 ID 生成",
    "models.adapter": "SageMaker 载荷适配器",
    "models.add": "添加为变体",
    "models.col_id": "模型 ID",
    "models.col_provider": "提供方",
    "models.col_modalities": "输入 → 输出",
    "models.col_streaming": "流式",
    "models.col_adapter": "适配器",
    "models.col_notes": "备注",
    "models.yes": "是",
    "models.no": "否",
    "models.default_region": "默认区域",
    "models.found": "在 {region} 找到 **{count}** 个模型。",
    "models.problem": "⚠️ 无法列出 {service}（{code}）：{message}",
    "models.pick_service": "请勾选 Bedrock、SageMaker 或两者。",
    "models.pick_first": "请先发现模型，再选择一个。",
    "models.not_added": "**未添加。** {message}",
    "models.added": "已添加变体 **{name}**（{model}）：它现在已在对比选择列表中。",
}

TRANSLATIONS: dict[str, dict[str, str]] = {"en": EN, "zh-CN": ZH_CN}
_MARK = "__i18n__"


def t(key: str) -> str:
    """Static text of the page, translated by the browser with TRANSLATIONS (given to Gradio
    as its `I18n`, ui/app.py): the key as the string Gradio's page looks for in a label,
    placeholder, title or value (what `str(gr.I18n(...)(key))` gives; written here so this
    module, used by the Gradio-free conversation model, needs no Gradio). One key per
    string, with text before or after it if need be. An unknown key fails here, while the
    page is built, not as a raw key on screen."""
    if key not in EN:
        raise KeyError(f"no translation for {key!r}: add it to ui/i18n.py")
    return _MARK + json.dumps({"__type__": "translation_metadata", "key": key})


def say(lang: str, key: str, **values: Any) -> str:
    """Text made in Python, in `lang` (English for a language or key it lacks)."""
    text = TRANSLATIONS.get(lang, EN).get(key) or EN[key]
    return text.format(**values) if values else text


def language_of(tag: str | None) -> str | None:
    """The page's language for one language tag (`zh`, `zh-Hans-CN`, `en-GB`), or None."""
    tag = (tag or "").strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"  # Simplified Chinese for every Chinese tag: the one Chinese we have
    if tag.startswith("en"):
        return "en"
    return None


def accepted_language(accept_language: str | None) -> str:
    """The first language we speak in an Accept-Language header, by its q weights."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag))
    for weight, _, tag in sorted(ranked):
        found = language_of(tag)
        if found is not None and weight < 0:
            return found
    return DEFAULT_LANGUAGE


def request_language(request: Any) -> str:
    """The language of the person behind a Gradio request: the switch's cookie, else the
    browser's Accept-Language. (A request of the Gradio API without either: English.)"""
    if request is None:
        return DEFAULT_LANGUAGE
    cookies = getattr(request, "cookies", None) or {}
    chosen = language_of(cookies.get(COOKIE)) if hasattr(cookies, "get") else None
    if chosen is not None:
        return chosen
    headers = getattr(request, "headers", None) or {}
    return accepted_language(headers.get("accept-language") if hasattr(headers, "get") else None)


def switch_html() -> str:
    """The header's language switch: links to the same page with `?lang=`. (Gradio's Markdown
    opens every link in a new tab; the language script opens these in place.)"""
    links = " · ".join(
        f'<a href="?lang={code}" target="_self" hreflang="{code}" lang="{code}">{name}</a>'
        for code, name in LANGUAGE_NAMES.items()
    )
    return f'<span id="lang-links" role="group" aria-label="Language / 语言">{links}</span>'


# The other pages, by path: Gradio's navigation bar shows their names untranslated, so the
# language script below writes them in.
NAV_PAGES = {
    "documents": "nav.documents",
    "campaign": "nav.campaign",
    "dashboard": "nav.dashboard",
    "leaderboard": "nav.leaderboard",
    "export": "nav.export",
    "evaluations": "nav.evaluations",
    "usecases": "nav.usecases",
    "tuning": "nav.tuning",
    "models": "nav.models",
}
_NAV_NAMES = {
    code: {path: words[key] for path, key in NAV_PAGES.items()}
    for code, words in TRANSLATIONS.items()
    if code != DEFAULT_LANGUAGE
}

# Runs first in every page's <head>, before Gradio's scripts: the switch's `?lang=` sets the
# cookie, and `navigator.language` is made to answer the chosen language, the one thing
# Gradio's page reads to pick its translations (its setupi18n). Then, the navigation bar's
# page names in that language: watching the page only until the bar is there, then the bar.
_SCRIPT = """<script>(function(){
var names=__LANGUAGES__,nav=__NAV__;
function pick(tag){tag=(tag||"").toLowerCase();
if(tag.indexOf("zh")===0)return "zh-CN";if(tag.indexOf("en")===0)return "en";return null;}
var chosen=pick(new URLSearchParams(location.search).get("lang"));
if(chosen){document.cookie="__COOKIE__="+chosen+"; path=/; max-age=31536000; samesite=lax";}
else{var m=document.cookie.match(/(?:^|; )__COOKIE__=([^;]*)/);chosen=m&&pick(decodeURIComponent(m[1]));}
if(!chosen){var all=(navigator.languages&&navigator.languages.length)?navigator.languages:[navigator.language];
for(var i=0;i<all.length&&!chosen;i++){chosen=pick(all[i]);}}
chosen=(chosen&&names.indexOf(chosen)>=0)?chosen:"__DEFAULT__";
try{Object.defineProperty(navigator,"language",{get:function(){return chosen;},configurable:true});
Object.defineProperty(navigator,"languages",{get:function(){return [chosen];},configurable:true});}catch(e){}
document.documentElement.lang=chosen;
document.addEventListener("click",function(e){var a=e.target&&e.target.closest&&e.target.closest("#lang-links a");
if(!a)return;e.preventDefault();e.stopPropagation();location.href=a.href;},true);
var words=nav[chosen];if(!words)return;
function write(bar){bar.querySelectorAll("a").forEach(function(a){
var path=(a.getAttribute("href")||"").split(/[?#]/)[0].replace(/\/+$/,"").split("/").pop();
var text=a.firstChild;if(words[path]&&text&&text.nodeType===3&&text.nodeValue!==words[path]){text.nodeValue=words[path];}});}
var seek=new MutationObserver(function(){var bar=document.querySelector("nav");if(!bar)return;
seek.disconnect();write(bar);new MutationObserver(function(){write(bar);}).observe(bar,{childList:true,subtree:true,characterData:true});});
document.addEventListener("DOMContentLoaded",function(){seek.observe(document.body,{childList:true,subtree:true});});
})();</script>"""
LANGUAGE_SCRIPT = (
    _SCRIPT.replace("__LANGUAGES__", json.dumps(list(TRANSLATIONS)))
    .replace("__NAV__", json.dumps(_NAV_NAMES, ensure_ascii=False))
    .replace("__COOKIE__", COOKIE)
    .replace("__DEFAULT__", DEFAULT_LANGUAGE)
)
