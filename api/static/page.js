// The sellers' page: ask, read the cited answer, open the slides, send feedback.
//
// Questions make a conversation: every question and its answer stay on the page, newest
// at the bottom, and each next question is sent with the earlier turns (`history`), so
// that "Should I tell the partner?" is read in the scenario of the question before it.
// The page keeps the conversation itself (it never uses the service's conversation_id),
// so a link replays it without server state: the address names the latest question
// (?q=..., a link that asks it, as before), the tab's history entry holds the whole
// conversation (reload, back and forward restore it), and "Copy link" gives
// /?q=first&q=second&..., which asks those questions in order as one conversation.

import { ApiError, callApi, setKeyPrompt } from "./client.js";
import { locateQuote } from "./highlight.js";
import { answerView, browseList, el, highlightedText, slideDetail } from "./render.js";

const MAX_COMMENT_CHARS = 2000;
const MAX_HISTORY_TURNS = 10; // the most earlier turns POST /v1/answer takes
const CITATION_FIELDS = ["n", "chunk_id", "source", "slide", "page", "title", "section", "quote", "score"];

const byId = (id) => document.getElementById(id);
const ui = {
  form: byId("ask-form"),
  input: byId("question"),
  spinner: byId("spinner"),
  statusText: byId("status-text"),
  error: byId("error"),
  examples: byId("examples"),
  thread: byId("thread"),
  askLabel: byId("ask-label"),
  askHint: byId("ask-hint"),
  conversation: byId("conversation"),
  conversationCount: byId("conversation-count"),
  copyLink: byId("copy-link"),
  newQuestion: byId("new-question"),
  shareStatus: byId("share-status"),
  shareFallback: byId("share-fallback"),
  shareLink: byId("share-link"),
  browseStatus: byId("browse-status"),
  browseList: byId("browse-list"),
  slideView: byId("slide-view"),
  keyDialog: byId("key-dialog"),
  keyForm: byId("key-form"),
  keyInput: byId("key-input"),
  keyMessage: byId("key-message"),
  keyCancel: byId("key-cancel"),
};

let sourcesRequest = null;
let latestAsk = 0; // every change to the conversation takes a new number; a stale answer is dropped
/** The answered turns on the page, oldest first: {question, result, item}. */
const turns = [];
/** The list item of the question being asked (hidden until its answer arrives), or null. */
let pendingItem = null;
/** The address's query as the page last set or read it (see the popstate handler). */
let shownSearch = window.location.search;

/** GET /v1/sources once; a failed request is forgotten so that the next use tries again. */
function loadSources() {
  if (!sourcesRequest) {
    sourcesRequest = callApi("/v1/sources");
    sourcesRequest.catch(() => {
      sourcesRequest = null;
    });
  }
  return sourcesRequest;
}

function messageOf(error) {
  if (error instanceof ApiError) return error.message;
  return `the page hit an unexpected problem (${error && error.message ? error.message : error}).`;
}

function showError(message, error = null) {
  if (!message) {
    ui.error.hidden = true;
    ui.error.replaceChildren();
    return;
  }
  const lines = [el("p", {}, [message])];
  if (error instanceof ApiError && error.requestId) {
    lines.push(el("p", { className: "hint" }, [`Reference for support: ${error.requestId}`]));
  }
  ui.error.replaceChildren(...lines);
  ui.error.hidden = false;
}

function busy(on, text) {
  ui.spinner.hidden = !on;
  ui.statusText.textContent = text;
  const section = pendingItem && pendingItem.querySelector(".answer");
  if (section) section.setAttribute("aria-busy", on ? "true" : "false");
}

// ---- the conversation and its address ------------------------------------------------

const questionsOf = (list) => list.map((turn) => turn.question);

/** The `history` of a request: the latest earlier turns, oldest first, with their answers' chunks. */
function historyOf(earlier) {
  return earlier.slice(-MAX_HISTORY_TURNS).map((turn) => ({
    question: turn.question,
    chunk_ids: turn.result.citations.map((c) => c.chunk_id),
  }));
}

function questionsInUrl() {
  return new URLSearchParams(window.location.search)
    .getAll("q")
    .map((q) => q.trim())
    .filter(Boolean);
}

/** The conversation kept in a history entry's state, or null for an entry the page did not make. */
function savedConversation(state) {
  const saved = state && state.conversation;
  return Array.isArray(saved) && saved.every((q) => typeof q === "string") ? saved : null;
}

/** A link that asks these questions in order, as one conversation: /?q=first&q=second... */
function conversationLink(questions) {
  const url = new URL("/", window.location.href);
  for (const question of questions) url.searchParams.append("q", question);
  return url.href;
}

/** Put the latest question in the address (a new history entry) and the conversation in its state. */
function rememberConversation(questions) {
  const url = new URL(window.location.href);
  url.searchParams.set("q", questions[questions.length - 1]);
  url.hash = "";
  const state = { conversation: questions };
  if (url.href === window.location.href) window.history.replaceState(state, "", url);
  else window.history.pushState(state, "", url);
  shownSearch = window.location.search;
}

/** The newest turn's section is #answer and its heading #answer-heading; earlier ones go by number. */
function markNewest() {
  const items = [...ui.thread.children];
  items.forEach((item, i) => {
    const section = item.querySelector(".answer");
    const heading = section.querySelector(".answer-title");
    const newest = i === items.length - 1;
    if (newest) section.id = "answer";
    else section.removeAttribute("id");
    if (newest) section.setAttribute("aria-live", "polite");
    else section.removeAttribute("aria-live"); // earlier turns are history: not announced again
    if (heading) {
      heading.id = newest ? "answer-heading" : `turn-${i + 1}-heading`;
      section.setAttribute("aria-labelledby", heading.id);
    }
  });
}

/** The thread's list, the ask box's wording and the conversation's buttons, for the turns now shown. */
function showConversation() {
  const n = turns.length;
  ui.thread.hidden = n === 0;
  turns.forEach((turn, i) => turn.item.classList.toggle("is-earlier", i < n - 1));
  ui.conversation.hidden = n === 0;
  ui.conversationCount.textContent = `${n} question${n === 1 ? "" : "s"} in this conversation.`;
  ui.askLabel.textContent = n ? "Ask a follow-up" : "Your question";
  ui.askHint.textContent = n
    ? "It is read with the questions above. For another topic, choose New question."
    : "In your own words. Press Enter to ask.";
  ui.shareStatus.textContent = ""; // a copied link no longer matches the conversation
  ui.shareFallback.hidden = true;
}

function focusTurn(number) {
  const item = byId(`turn-${number}`);
  const heading = item && item.querySelector(".answer-title");
  if (!heading) return;
  heading.scrollIntoView({ block: "start" });
  heading.focus({ preventScroll: true });
}

// ---- asking -----------------------------------------------------------------------

/** Ask `raw` as the next turn of the conversation; true once its answer is on the page. */
async function ask(raw, { updateUrl = true, focus = true } = {}) {
  const question = String(raw).trim();
  if (!question) {
    showError("Type a question first.");
    ui.input.focus();
    return false;
  }
  ui.input.value = question;
  if (updateUrl) rememberConversation([...questionsOf(turns), question]);
  const ticket = ++latestAsk; // a newer question wins over a slower older one
  const history = historyOf(turns);
  const firstInHistory = turns.length - history.length;
  if (!pendingItem) {
    pendingItem = el("li", { className: "turn", id: `turn-${turns.length + 1}`, hidden: true }, [
      el("section", { className: "answer" }),
    ]);
    ui.thread.append(pendingItem);
    markNewest();
  }
  showError(null);
  ui.examples.hidden = true;
  busy(true, "Searching the guidance…");
  try {
    const body = history.length ? { question, history } : { question }; // a first question: as before
    const [result, sources] = await Promise.all([
      callApi("/v1/answer", { method: "POST", body }),
      loadSources().catch(() => null), // only for document titles; the cards say when it failed
    ]);
    if (ticket !== latestAsk) return false;
    busy(false, "");
    const at = result.context_turn;
    const followed = Number.isInteger(at) && at >= 0 && at < history.length ? firstInHistory + at : null;
    showTurn({ question, result, item: pendingItem }, followed, sources, focus);
    return true;
  } catch (error) {
    if (ticket !== latestAsk) return false;
    busy(false, "");
    pendingItem.remove();
    pendingItem = null;
    markNewest();
    showError(`Could not get an answer: ${messageOf(error)}`, error);
    return false;
  }
}

function documentTitles(sources) {
  const titles = new Map();
  for (const doc of sources ? sources.sources : []) titles.set(doc.source, doc.title);
  return titles;
}

/** Fill the pending item with its answer; `followed` is the index of the turn it was read with, or null. */
function showTurn(turn, followed, sources, focus) {
  turns.push(turn);
  pendingItem = null;
  const number = turns.length;
  const view = {
    number,
    question: turn.question,
    result: turn.result,
    followsUp: followed === null ? null : { number: followed + 1, question: turns[followed].question },
  };
  const section = turn.item.querySelector(".answer");
  section.replaceChildren(
    ...answerView(
      view,
      documentTitles(sources),
      {
        marker: (n) => openCitation(`t${number}-cite-${n}`),
        openSlide: fillSlide,
        suggestion: (topic) => ask(topic),
        recall: focusTurn,
        feedback: (verdict) => sendFeedback(turn.question, turn.result, verdict),
      },
      MAX_COMMENT_CHARS,
    ),
  );
  section.classList.toggle("is-abstained", turn.result.abstained);
  turn.item.hidden = false;
  markNewest();
  showConversation();
  if (focus) byId("answer-heading").focus();
}

/**
 * Show this conversation: keep the turns it shares with the page, drop the others, ask
 * the missing questions in order (back and forward, a reload, a conversation link).
 */
async function replay(questions) {
  const shown = questionsOf(turns);
  let keep = 0;
  while (keep < shown.length && keep < questions.length && shown[keep] === questions[keep]) keep += 1;
  if (keep === shown.length && keep === questions.length && !pendingItem) return; // already on the page
  latestAsk += 1; // an answer still on its way belongs to another conversation
  busy(false, "");
  showError(null);
  if (pendingItem) pendingItem.remove();
  pendingItem = null;
  for (const turn of turns.splice(keep)) turn.item.remove();
  markNewest();
  showConversation();
  if (!questions.length) {
    showStart();
  } else if (keep === questions.length) {
    ui.input.value = questions[questions.length - 1];
    byId("answer-heading").focus();
  } else {
    for (let i = keep; i < questions.length; i += 1) {
      const last = i === questions.length - 1;
      if (!(await ask(questions[i], { updateUrl: false, focus: last }))) return;
    }
  }
}

/** "New question": the next question starts a conversation of its own (back returns to this one). */
function startOver() {
  window.history.pushState({ conversation: [] }, "", new URL("/", window.location.href));
  shownSearch = window.location.search;
  replay([]);
  ui.input.focus();
}

/** "Copy link": the conversation's link to the clipboard, or shown selected where that is refused. */
async function copyLink() {
  const n = turns.length;
  const link = conversationLink(questionsOf(turns));
  ui.shareLink.value = link;
  try {
    await navigator.clipboard.writeText(link);
    ui.shareFallback.hidden = true;
    ui.shareStatus.textContent = `Link copied: it asks ${n === 1 ? "this question" : `these ${n} questions in order`}.`;
  } catch {
    // No clipboard (an insecure origin, a refused permission): the link, selected, to copy by hand.
    ui.shareFallback.hidden = false;
    ui.shareLink.focus();
    ui.shareLink.select();
    ui.shareStatus.textContent = "Copy the selected link (Ctrl+C, or ⌘C on a Mac).";
  }
}

function openCitation(cardId) {
  const card = byId(cardId);
  if (!card) return;
  const details = card.querySelector("details");
  if (details) details.open = true;
  card.focus();
}

function findPart(sources, citation) {
  const doc = sources.sources.find((d) => d.source === citation.source);
  if (!doc) return null;
  const hasSlide = citation.slide !== null && citation.slide !== undefined;
  return (
    doc.parts.find((p) => (hasSlide ? p.slide === citation.slide : p.page === citation.page && p.page !== null)) ||
    null
  );
}

/** Fill a card's "whole slide" section: the slide's text with the quoted sentences marked. */
async function fillSlide(body, citation) {
  let sources;
  try {
    sources = await loadSources();
  } catch (error) {
    body.replaceChildren(el("p", { className: "is-error" }, [`The slide text could not be loaded: ${messageOf(error)}`]));
    return;
  }
  const part = findPart(sources, citation);
  if (!part || !part.text) {
    body.replaceChildren(el("p", { className: "hint" }, ["The full text of this slide is not available; the quote above is exact."]));
    return;
  }
  const { ranges, complete } = locateQuote(part.text, citation.quote);
  const nodes = [highlightedText(part.text, ranges)];
  if (ranges.length === 0) {
    nodes.unshift(el("p", { className: "hint" }, ["The quote could not be located in the slide text below; the quote above is exact."]));
  } else if (!complete) {
    nodes.unshift(el("p", { className: "hint" }, ["Part of the quote could not be located; the sentences found are highlighted."]));
  }
  body.replaceChildren(...nodes);
}

async function sendFeedback(question, result, { helpful, comment }) {
  // Only the fields the feedback contract knows (a newer answer may carry more).
  const citations = result.citations.map((c) =>
    Object.fromEntries(CITATION_FIELDS.filter((f) => c[f] !== undefined).map((f) => [f, c[f]])),
  );
  const body = {
    question,
    answer: result.answer,
    abstained: result.abstained,
    citations,
    index_version: result.index_version,
    helpful,
  };
  if (comment) body.comment = comment;
  const saved = await callApi("/v1/feedback", { method: "POST", body });
  return saved.id;
}

// ---- browsing ---------------------------------------------------------------------

async function showBrowseList() {
  try {
    const data = await loadSources();
    const slides = data.sources.reduce((sum, doc) => sum + doc.parts.length, 0);
    ui.browseList.replaceChildren(browseList(data.sources, chooseSlide));
    ui.browseStatus.textContent = `${slides} slides. Choose one to read it.`;
    ui.browseStatus.classList.remove("is-error");
  } catch (error) {
    ui.browseStatus.textContent = `The documents could not be loaded: ${messageOf(error)}`;
    ui.browseStatus.classList.add("is-error");
  }
}

function chooseSlide(doc, part, button) {
  for (const chosen of ui.browseList.querySelectorAll("[aria-current]")) chosen.removeAttribute("aria-current");
  button.setAttribute("aria-current", "true");
  ui.slideView.replaceChildren(...slideDetail(doc, part));
  ui.slideView.hidden = false;
  byId("slide-view-heading").focus();
}

// ---- the API key ------------------------------------------------------------------

function promptForKey(reason) {
  return new Promise((resolve) => {
    let entered = null;
    const onSubmit = (event) => {
      event.preventDefault();
      const key = ui.keyInput.value.trim();
      if (!key) return;
      entered = key;
      ui.keyDialog.close("ok");
    };
    const onCancel = () => ui.keyDialog.close("cancel");
    const onClose = () => {
      ui.keyForm.removeEventListener("submit", onSubmit);
      ui.keyCancel.removeEventListener("click", onCancel);
      ui.keyDialog.removeEventListener("close", onClose);
      ui.keyInput.value = "";
      resolve(ui.keyDialog.returnValue === "ok" ? entered : null);
    };
    ui.keyForm.addEventListener("submit", onSubmit);
    ui.keyCancel.addEventListener("click", onCancel);
    ui.keyDialog.addEventListener("close", onClose);
    ui.keyMessage.textContent = reason;
    ui.keyInput.value = "";
    ui.keyDialog.returnValue = "";
    ui.keyDialog.showModal();
    ui.keyInput.focus();
  });
}

// ---- start ------------------------------------------------------------------------

function showStart() {
  busy(false, "");
  showError(null);
  ui.input.value = "";
  ui.examples.hidden = false;
}

function start() {
  setKeyPrompt(promptForKey);
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(ui.input.value);
  });
  for (const button of ui.examples.querySelectorAll("button.example")) {
    button.addEventListener("click", () => ask(button.textContent));
  }
  // The box keeps the question just asked; focusing it selects that, so a follow-up replaces it.
  ui.input.addEventListener("focus", () => {
    if (turns.length && ui.input.value === turns[turns.length - 1].question) ui.input.select();
  });
  ui.newQuestion.addEventListener("click", startOver);
  ui.copyLink.addEventListener("click", copyLink);
  window.addEventListener("popstate", (event) => {
    const saved = savedConversation(event.state);
    if (!saved && window.location.search === shownSearch) {
      // An entry made by a fragment link (the skip link): it shows this same conversation.
      window.history.replaceState({ conversation: questionsOf(turns) }, "");
      return;
    }
    shownSearch = window.location.search;
    replay(saved || questionsInUrl());
  });
  showBrowseList();
  const saved = savedConversation(window.history.state); // a reload keeps the entry's state
  const questions = saved || questionsInUrl();
  if (!saved) window.history.replaceState({ conversation: questions }, "");
  if (questions.length) replay(questions);
  else ui.examples.hidden = false;
}

start();
