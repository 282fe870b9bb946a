// DOM builders. Every piece of text that comes from the API (questions, answers,
// quotes, titles, slide text) enters the page as a text node: nothing here parses
// HTML, so markup inside the corpus is shown as the characters it is.

/**
 * `el("p", {className: "x", on: {click: fn}, "aria-label": "..."}, ["text", node])`.
 * Strings among the children become text nodes; attributes are set one by one.
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** "Slide 9", "Page 3" or "" for a citation or a part. */
export function placeLabel(item) {
  if (item.slide !== null && item.slide !== undefined) return `Slide ${item.slide}`;
  if (item.page !== null && item.page !== undefined) return `Page ${item.page}`;
  return "";
}

/** Text with each `[n]` that names a citation turned into a link to its card (`#${idPrefix}cite-n`). */
export function answerText(text, citations, onMarker, idPrefix = "") {
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const paragraph = el("p", { className: "answer-text" });
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    paragraph.append(document.createTextNode(text.slice(last, match.index)));
    const n = Number(match[1]);
    const citation = byNumber.get(n);
    if (citation) {
      const label = [`Source ${n}`, placeLabel(citation)].filter(Boolean).join(", ");
      paragraph.append(
        el(
          "a",
          {
            href: `#${idPrefix}cite-${n}`,
            className: "marker",
            "aria-label": label,
            on: {
              click: (event) => {
                event.preventDefault();
                onMarker(n);
              },
            },
          },
          [match[0]],
        ),
      );
    } else {
      paragraph.append(document.createTextNode(match[0]));
    }
    last = match.index + match[0].length;
  }
  paragraph.append(document.createTextNode(text.slice(last)));
  return paragraph;
}

/** `[start, end)` of each line that is a section heading ("What should the seller do?"). */
function headingSpans(text) {
  const spans = [];
  let offset = 0;
  for (const line of text.split("\n")) {
    const end = offset + line.length;
    if (end < text.length && line.trim().endsWith("?") && line.length <= 80) spans.push([offset, end]);
    offset = end + 1;
  }
  return spans;
}

const within = (at, spans) => spans.some(([start, end]) => start <= at && at < end);

/** A slide's text with the given ranges in <mark> and its section headings in bold (line breaks kept by CSS). */
export function highlightedText(text, ranges = []) {
  const headings = headingSpans(text);
  const cuts = new Set([0, text.length]);
  for (const [start, end] of [...ranges, ...headings]) {
    cuts.add(start);
    cuts.add(end);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const box = el("div", { className: "slide-text" });
  for (let i = 0; i + 1 < points.length; i += 1) {
    const [start, end] = [points[i], points[i + 1]];
    let node = document.createTextNode(text.slice(start, end));
    if (within(start, ranges)) node = el("mark", {}, [node]);
    if (within(start, headings)) node = el("strong", { className: "slide-heading" }, [node]);
    box.append(node);
  }
  return box;
}

function metaList(pairs) {
  const list = el("dl", { className: "meta" });
  for (const [term, value] of pairs) {
    if (!value) continue;
    list.append(el("div", {}, [el("dt", {}, [term]), el("dd", {}, [value])]));
  }
  return list;
}

/**
 * One citation as a card, with the id `${idPrefix}cite-n`. `onOpen(body, citation)` fills
 * the slide text the first time the "whole slide" section is opened.
 */
export function citationCard(citation, documentTitle, onOpen, idPrefix = "") {
  const id = `${idPrefix}cite-${citation.n}`;
  const body = el("div", { className: "slide-body" }, [el("p", { className: "hint" }, ["Loading the slide…"])]);
  const details = el("details", { className: "card-slide", id: `${id}-slide` }, [
    el("summary", {}, [`Show the quote in the whole ${placeLabel(citation).toLowerCase() || "document"}`]),
    body,
  ]);
  let filled = false;
  details.addEventListener("toggle", () => {
    if (details.open && !filled) {
      filled = true;
      onOpen(body, citation);
    }
  });
  const place = placeLabel(citation);
  return el("li", { className: "card", id, tabindex: "-1", "aria-labelledby": `${id}-title` }, [
    el("div", { className: "card-head" }, [
      el("span", { className: "card-n", "aria-hidden": "true" }, [String(citation.n)]),
      el("div", { className: "card-heading" }, [
        el("p", { className: "card-place" }, [place]),
        el("h4", { className: "card-title", id: `${id}-title` }, [
          el("span", { className: "visually-hidden" }, [`Source ${citation.n}: `]),
          citation.title || citation.source,
        ]),
      ]),
    ]),
    metaList([
      ["Document", documentTitle ? `${documentTitle} (${citation.source})` : citation.source],
      ["Section", citation.section],
    ]),
    el("blockquote", { className: "card-quote" }, [el("p", {}, [citation.quote])]),
    details,
  ]);
}

/** The helpful / not helpful form. `send({helpful, comment})` returns a promise of the stored id. */
export function feedbackForm(send, maxComment, idPrefix = "") {
  const commentId = `${idPrefix}feedback-comment`;
  const countId = `${idPrefix}feedback-count`;
  const status = el("p", { className: "feedback-status", role: "status", "aria-live": "polite" });
  const comment = el("textarea", {
    id: commentId,
    name: "comment",
    rows: "3",
    maxlength: String(maxComment),
    "aria-describedby": countId,
  });
  const count = el("p", { className: "hint", id: countId }, [`Optional, up to ${maxComment} characters.`]);
  comment.addEventListener("input", () => {
    count.textContent = `${comment.value.length} of ${maxComment} characters.`;
  });
  const choice = (value, label) =>
    el("label", { className: "choice" }, [
      el("input", { type: "radio", name: "helpful", value }),
      el("span", {}, [label]),
    ]);
  const submit = el("button", { type: "submit", className: "button" }, ["Send feedback"]);
  const fields = el("fieldset", {}, [
    el("legend", {}, ["Was this answer helpful?"]),
    el("div", { className: "choices" }, [choice("yes", "Helpful"), choice("no", "Not helpful")]),
    el("label", { for: commentId, className: "comment-label" }, ["What was missing or wrong? (optional)"]),
    comment,
    count,
    submit,
  ]);
  const form = el("form", { className: "feedback", "aria-label": "Feedback on this answer" }, [fields, status]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = form.querySelector("input[name=helpful]:checked");
    status.classList.remove("is-error");
    if (!picked) {
      status.classList.add("is-error");
      status.textContent = "Choose “Helpful” or “Not helpful” first.";
      form.querySelector("input[name=helpful]").focus();
      return;
    }
    submit.disabled = true;
    status.textContent = "Sending…";
    try {
      const id = await send({ helpful: picked.value === "yes", comment: comment.value.trim() });
      fields.disabled = true;
      status.textContent = `Thank you: your feedback is saved (no. ${id}).`;
    } catch (error) {
      submit.disabled = false;
      status.classList.add("is-error");
      status.textContent = `Feedback not saved: ${error.message}`;
    }
  });
  return form;
}

/**
 * One turn of the conversation: the heading, the question, the note that it was read as a
 * follow-up, then the answer with its cards (or the abstention with its suggestions) and
 * the feedback form. Ids are scoped by the turn (`t2-cite-1`), so that every answer on
 * the page keeps its own cards; the page names the heading.
 *
 * `turn`: {number, question, result, followsUp: {number, question} | null};
 * `titles`: source → document title; `on`: {marker(n), openSlide(body, citation),
 * suggestion(topic), recall(number), feedback(verdict) → Promise<id>}; `maxComment`: characters.
 */
export function answerView(turn, titles, on, maxComment) {
  const { number, question, result, followsUp } = turn;
  const idPrefix = `t${number}-`;
  const parts = [
    el("h2", { className: "answer-title", tabindex: "-1" }, [
      result.abstained ? "Not covered by the guidance" : "Answer",
    ]),
    el("p", { className: "asked" }, [
      el("span", { className: "turn-no" }, [`Question ${number}`]),
      " You asked: ",
      el("q", {}, [question]),
    ]),
  ];
  if (followsUp) {
    parts.push(
      el("p", { className: "follows-up" }, [
        "Read as a follow-up to: ",
        el(
          "a",
          {
            href: `#turn-${followsUp.number}`,
            title: `Question ${followsUp.number}`,
            on: {
              click: (event) => {
                event.preventDefault(); // no fragment in the address: it would become a history entry
                on.recall(followsUp.number);
              },
            },
          },
          [`“${followsUp.question}”`],
        ),
      ]),
    );
  }
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
              el("button", { type: "button", className: "suggestion", on: { click: () => on.suggestion(topic) } }, [
                topic,
              ]),
            ]),
          ),
        ),
      );
    }
  } else {
    const n = result.citations.length;
    parts.push(
      answerText(result.answer, result.citations, on.marker, idPrefix),
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
          result.citations.map((c) => citationCard(c, titles.get(c.source), on.openSlide, idPrefix)),
        ),
      );
    }
  }
  parts.push(feedbackForm(on.feedback, maxComment, idPrefix));
  return parts;
}

/** The browse list: each document with its slides (or pages) as buttons. */
export function browseList(sources, onChoose) {
  const box = document.createDocumentFragment();
  for (const doc of sources) {
    box.append(el("h3", { className: "doc-title" }, [doc.title || doc.source]));
    if (doc.title && doc.title !== doc.source) box.append(el("p", { className: "hint doc-file" }, [doc.source]));
    const list = el("ul", { className: "slide-list" });
    for (const part of doc.parts) {
      const button = el("button", { type: "button", className: "slide-link", "aria-controls": "slide-view" }, [
        el("span", { className: "slide-no" }, [placeLabel(part)]),
        el("span", { className: "slide-name" }, [part.title || "(untitled)"]),
      ]);
      button.addEventListener("click", () => onChoose(doc, part, button));
      list.append(el("li", {}, [button]));
    }
    box.append(list);
  }
  return box;
}

/** The chosen slide: heading, document, scenario and full text. */
export function slideDetail(doc, part) {
  const heading = el("h3", { id: "slide-view-heading", tabindex: "-1" }, [
    [placeLabel(part), part.title].filter(Boolean).join(": "),
  ]);
  const scenario = part.scenario && !(part.title || "").includes(part.scenario) ? part.scenario : null;
  return [
    heading,
    metaList([
      ["Document", doc.title && doc.title !== doc.source ? `${doc.title} (${doc.source})` : doc.source],
      ["Scenario", scenario],
    ]),
    part.text ? highlightedText(part.text) : el("p", { className: "hint" }, ["This slide has no text."]),
  ];
}
