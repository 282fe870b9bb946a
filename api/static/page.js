// The sellers' page: ask, read the cited answer, open the slides, send feedback.
// The question lives in the URL (?q=...), so an answer can be shared as a link.

import { ApiError, callApi, setKeyPrompt } from "./client.js";
import { locateQuote } from "./highlight.js";
import {
  answerText,
  browseList,
  citationCard,
  el,
  feedbackForm,
  highlightedText,
  slideDetail,
} from "./render.js";

const MAX_COMMENT_CHARS = 2000;
const CITATION_FIELDS = ["n", "chunk_id", "source", "slide", "page", "title", "section", "quote", "score"];

const byId = (id) => document.getElementById(id);
const ui = {
  form: byId("ask-form"),
  input: byId("question"),
  spinner: byId("spinner"),
  statusText: byId("status-text"),
  error: byId("error"),
  examples: byId("examples"),
  answer: byId("answer"),
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
let latestAsk = 0;

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
  ui.answer.setAttribute("aria-busy", on ? "true" : "false");
}

// ---- asking -----------------------------------------------------------------------

function questionInUrl() {
  return (new URLSearchParams(window.location.search).get("q") || "").trim();
}

function putQuestionInUrl(question) {
  const url = new URL(window.location.href);
  if (url.searchParams.get("q") === question) return;
  url.searchParams.set("q", question);
  url.hash = "";
  window.history.pushState({ q: question }, "", url);
}

async function ask(raw, { updateUrl = true } = {}) {
  const question = String(raw).trim();
  if (!question) {
    showError("Type a question first.");
    ui.input.focus();
    return;
  }
  ui.input.value = question;
  if (updateUrl) putQuestionInUrl(question);
  const ticket = ++latestAsk; // a newer question wins over a slower older one
  showError(null);
  ui.examples.hidden = true;
  ui.answer.hidden = true;
  busy(true, "Searching the guidance…");
  try {
    const [result, sources] = await Promise.all([
      callApi("/v1/answer", { method: "POST", body: { question } }),
      loadSources().catch(() => null), // only for document titles; the cards say when it failed
    ]);
    if (ticket !== latestAsk) return;
    busy(false, "");
    showAnswer(question, result, sources);
  } catch (error) {
    if (ticket !== latestAsk) return;
    busy(false, "");
    ui.answer.replaceChildren();
    showError(`Could not get an answer: ${messageOf(error)}`, error);
  }
}

function documentTitles(sources) {
  const titles = new Map();
  for (const doc of sources ? sources.sources : []) titles.set(doc.source, doc.title);
  return titles;
}

function showAnswer(question, result, sources) {
  const heading = el("h2", { id: "answer-heading", tabindex: "-1" }, [
    result.abstained ? "Not covered by the guidance" : "Answer",
  ]);
  const parts = [heading, el("p", { className: "asked" }, ["You asked: ", el("q", {}, [question])])];
  if (result.abstained) {
    parts.push(el("p", { className: "abstain-text" }, [result.answer || "The guidance does not cover this question."]));
    if (result.suggestions.length) {
      parts.push(
        el("h3", {}, ["Closest topics in the guidance"]),
        el("p", { className: "hint" }, ["Choose one to ask about it."]),
        el(
          "ul",
          { className: "suggestions" },
          result.suggestions.map((topic) =>
            el("li", {}, [
              el("button", { type: "button", className: "suggestion", on: { click: () => ask(topic) } }, [topic]),
            ]),
          ),
        ),
      );
    }
  } else {
    const titles = documentTitles(sources);
    const n = result.citations.length;
    parts.push(
      answerText(result.answer, result.citations, openCitation),
      el("p", { className: "hint answer-meta" }, [
        `Quoted from ${n} source${n === 1 ? "" : "s"} · confidence ${Math.round(result.confidence * 100)}%`,
      ]),
    );
    if (n) {
      parts.push(
        el("h3", {}, ["Sources"]),
        el(
          "ol",
          { className: "citations" },
          result.citations.map((c) => citationCard(c, titles.get(c.source), fillSlide)),
        ),
      );
    }
  }
  parts.push(feedbackForm((verdict) => sendFeedback(question, result, verdict), MAX_COMMENT_CHARS));
  ui.answer.replaceChildren(...parts);
  ui.answer.classList.toggle("is-abstained", result.abstained);
  ui.answer.hidden = false;
  heading.focus();
}

function openCitation(n) {
  const card = byId(`cite-${n}`);
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
  latestAsk += 1;
  busy(false, "");
  showError(null);
  ui.input.value = "";
  ui.answer.hidden = true;
  ui.answer.replaceChildren();
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
  window.addEventListener("popstate", () => {
    const question = questionInUrl();
    if (question) ask(question, { updateUrl: false });
    else showStart();
  });
  showBrowseList();
  const question = questionInUrl();
  if (question) ask(question, { updateUrl: false });
  else ui.examples.hidden = false;
}

start();
