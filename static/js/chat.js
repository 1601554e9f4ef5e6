// Chat: follows live replies over server-sent events, and the composer's keyboard and attachment behaviour.
// Replies are rendered on the server: this script only appends plain text (as text, never as HTML) and puts
// in place HTML the server sanitised. Reconnects resume from the last event id, so nothing is shown twice.
(function () {
  "use strict";

  var ANNOUNCE_EVERY_MS = 1500;

  // --- Polite announcements for screen readers ----------------------------------------------------------------
  var pending = "";
  var lastAnnounce = 0;
  var announceTimer = null;

  function announceNow(text) {
    var region = document.getElementById("chat-live");
    if (!region || !text.trim()) return;
    region.textContent = text.trim();
    lastAnnounce = Date.now();
  }

  // Streamed text is read out a sentence or more at a time, never token by token.
  function queueAnnouncement(text) {
    pending += text;
    var end = Math.max(pending.lastIndexOf(". "), pending.lastIndexOf("! "), pending.lastIndexOf("? "), pending.lastIndexOf("\n"));
    if (end < 0) return;
    var wait = ANNOUNCE_EVERY_MS - (Date.now() - lastAnnounce);
    if (announceTimer) return;
    announceTimer = setTimeout(function () {
      announceTimer = null;
      var cut = Math.max(pending.lastIndexOf(". "), pending.lastIndexOf("! "), pending.lastIndexOf("? "), pending.lastIndexOf("\n"));
      if (cut < 0) return;
      announceNow(pending.slice(0, cut + 1));
      pending = pending.slice(cut + 1);
    }, Math.max(wait, 0));
  }

  function flushAnnouncement(suffix) {
    if (announceTimer) { clearTimeout(announceTimer); announceTimer = null; }
    var text = (pending + " " + (suffix || "")).trim();
    pending = "";
    announceNow(text);
  }

  // --- Scrolling: stay at the bottom while the reader is there ------------------------------------------------
  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
  }
  function keepDown(wasNear) {
    if (wasNear) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  // --- Following a reply --------------------------------------------------------------------------------------
  // One reply's events, wherever they come from: the response of the POST that asked for it, or an EventSource
  // (a page opened while the reply is being written, or a reconnect, which resumes after the last event id).
  function setState(article, text) {
    var badge = article.querySelector("[data-connection]");
    if (!text) { if (badge) badge.remove(); return; }
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "status-badge connection";
      badge.setAttribute("data-connection", "");
      var head = article.querySelector(".msg-head");
      if (head) head.append(badge);
    }
    badge.textContent = text;
  }

  var ANNOUNCEMENTS = { complete: "Reply complete.", stopped: "Reply stopped.", failed: "The reply failed.", interrupted: "The reply was interrupted." };

  // Applies one event to the reply's article. Returns true when the reply is done.
  function apply(article, name, raw, id) {
    if (id) article.setAttribute("data-seq", id);
    if (name !== "delta" && name !== "block" && name !== "snapshot" && name !== "think" && name !== "done") return false;
    var d = JSON.parse(raw);
    var near = nearBottom();
    var rendered = article.querySelector("[data-rendered]");
    var tail = article.querySelector("[data-tail]");
    var thinking = article.querySelector("[data-thinking]");
    if (name === "delta") {
      tail.append(document.createTextNode(d.t));
      article.setAttribute("data-has-text", "");
      queueAnnouncement(d.t);
    } else if (name === "block" || name === "snapshot") {
      rendered.innerHTML = d.html; // sanitised on the server (markdown-it without raw HTML, then nh3)
      tail.textContent = d.tail;
      article.setAttribute("data-has-text", "");
      if (name === "snapshot" && thinking) thinking.textContent = d.thinking || "";
      if (d.t) queueAnnouncement(d.t);
    } else if (name === "think") {
      if (thinking) thinking.append(document.createTextNode(d.t));
    } else {
      var holder = document.createElement("div");
      holder.innerHTML = d.html; // our own template, rendered for this user
      var fresh = holder.firstElementChild;
      if (fresh) {
        article.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
      }
      flushAnnouncement(ANNOUNCEMENTS[d.status] || "");
      document.body.dispatchEvent(new CustomEvent("chat:done", { detail: { status: d.status } }));
      updateSend();
    }
    keepDown(near);
    return name === "done";
  }

  function follow(article) {
    if (article._source || article._fetching) return;
    var url = article.getAttribute("data-stream") + "?after=" + (article.getAttribute("data-seq") || "0");
    var source = new EventSource(url);
    article._source = source;
    article.setAttribute("data-following", "");
    ["delta", "block", "snapshot", "think", "done"].forEach(function (name) {
      source.addEventListener(name, function (event) {
        if (apply(article, name, event.data, event.lastEventId)) { source.close(); article._source = null; }
      });
    });
    source.addEventListener("open", function () { setState(article, ""); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        article._source = null;
        setState(article, "Connection lost: reload to see the reply");
      } else {
        setState(article, "Reconnecting…");
      }
    });
  }

  function followAll() {
    document.querySelectorAll("article[data-stream]").forEach(follow);
  }

  // Server-sent events from a fetch() body (a POST can't use EventSource).
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function dispatch(block) {
      var name = "message", id = "", data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("id:") === 0) id = line.slice(3).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(name, data.join("\n"), id);
    }
    function pump() {
      return reader.read().then(function (part) {
        if (part.done) return;
        buffer += decoder.decode(part.value, { stream: true }).replace(/\r\n?/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          dispatch(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
        return pump();
      });
    }
    return pump();
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 15) | 64; bytes[8] = (bytes[8] & 63) | 128;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function showError(html, fallback) {
    var box = document.getElementById("chat-error");
    if (!box) { if (window.KieStudio) window.KieStudio.toast(fallback, "error"); return; }
    var holder = document.createElement("div");
    holder.innerHTML = html || "";
    var fresh = holder.querySelector("#chat-error");
    if (fresh) { box.replaceWith(fresh); } else { box.textContent = fallback; box.hidden = false; }
  }

  function clearError() {
    var box = document.getElementById("chat-error");
    if (box) { box.textContent = ""; box.hidden = true; }
  }

  // Puts the first event's HTML on the page; returns the reply's article.
  function place(first) {
    if (first.mode === "main") {
      document.getElementById("chat-main").outerHTML = first.html;
      if (first.list) document.getElementById("conversation-list").outerHTML = first.list;
      history.pushState({}, "", first.url);
      var sidebar = document.querySelector("[data-chat-sidebar]");
      if (sidebar) sidebar.classList.add("has-conversation");
      if (window.htmx) window.htmx.process(document.querySelector(".chat-layout"));
    } else if (first.mode === "thread") {
      document.getElementById("thread").outerHTML = first.html;
      if (window.htmx) window.htmx.process(document.getElementById("thread"));
    } else {
      var thread = document.getElementById("thread");
      thread.insertAdjacentHTML("beforeend", first.html);
      if (window.htmx) window.htmx.process(thread);
    }
    var articles = document.querySelectorAll("article[data-stream]");
    return articles[articles.length - 1];
  }

  // A form that buys a reply (send, first message, edit, regenerate): one POST, answered by the reply's stream.
  function submitStreaming(form) {
    if (form._busy) return;
    form._busy = true;
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.classList.add("htmx-request"); }
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    var isComposer = form.id === "composer";
    var article = null;
    function release() {
      form._busy = false;
      if (button) { button.classList.remove("htmx-request"); button.disabled = false; }
      updateSend();
    }
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "text/event-stream", "X-CSRFToken": csrf ? csrf.value : "" },
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("text/event-stream") === -1) {
        return response.text().then(function (html) {
          var words = response.status === 403 ? "You don't have permission to do that here." : "That didn't work. Try again.";
          showError(html, words);
          release();
        });
      }
      clearError();
      // The reply's first events can come before the page update (it is rendered while they are relayed):
      // they wait here until the update has put the reply's article on the page.
      var early = [];
      return readEvents(response, function (name, data, id) {
        if (name === "thread") {
          // Measure before the new message and its reply are on the page: after, the reader who was at the
          // bottom no longer is, and the page would leave them below the composer. A message sent from the
          // composer is followed whatever the position (the sender is looking at it).
          var stayDown = nearBottom() || isComposer;
          article = place(JSON.parse(data));
          keepDown(stayDown);
          if (isComposer) resetComposer();
          release();
          if (article) { article._fetching = true; article.setAttribute("data-following", ""); }
          var held = early; early = null;
          held.forEach(function (event) { if (article && apply(article, event[0], event[1], event[2])) article = null; });
          promptLinks(document);  // the update may already hold the finished reply
          return;
        }
        if (early) { early.push([name, data, id]); return; }
        if (article && apply(article, name, data, id)) article = null;
      }).then(function () {
        // The response ended before the reply did (a dropped connection): carry on over EventSource.
        if (article && document.body.contains(article)) { article._fetching = false; follow(article); }
      });
    }).catch(function () {
      if (article && document.body.contains(article)) { article._fetching = false; follow(article); return; }
      showError("", "Couldn't reach the studio. Check your connection; your message is still here.");
      release();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-stream-form]") || !window.fetch || !window.ReadableStream) return;
    event.preventDefault();
    if (form.id === "composer" && form.querySelector("[data-send]").disabled) return;
    submitStreaming(form);
  });

  // --- The composer -------------------------------------------------------------------------------------------
  function composer() { return document.getElementById("composer"); }

  function updateSend() {
    var form = composer();
    if (!form) return;
    var input = form.querySelector("[data-composer-input]");
    var send = form.querySelector("[data-send]");
    var hasImages = form.querySelectorAll(".ref-item").length > 0;
    var writing = document.querySelector("#thread article[data-stream]");
    send.disabled = !(input.value.trim() || hasImages) || !!writing;
    send.title = writing ? "Wait for the reply, or stop it, before sending another message." : "";
  }

  function syncThinking() {
    var form = composer();
    if (!form) return;
    var select = form.querySelector("[data-model-select]");
    var wrap = form.querySelector("[data-thinking-wrap]");
    if (!select || !wrap) return;
    var option = select.options[select.selectedIndex];
    var supported = option && option.getAttribute("data-thinking") === "1";
    wrap.hidden = !supported;
    if (!supported) wrap.querySelector("input").checked = false;
    var input = form.querySelector("[data-composer-input]");
    if (input && option) input.placeholder = "Message " + option.textContent.trim() + "… (@ picks from the gallery)";
  }

  // "@" typed at the start of a word opens the gallery picker (the "From gallery" button), in place of the "@".
  function atPicks(event) {
    var input = event.target;
    if (event.inputType !== "insertText" || event.data !== "@") return;
    var at = input.selectionStart - 1;
    if (at > 0 && !/\s/.test(input.value.charAt(at - 1))) return;  // an email address, not a pick
    var pick = input.form && input.form.querySelector("[data-ref-pick]");
    if (!pick) return;
    input.value = input.value.slice(0, at) + input.value.slice(at + 1);
    input.setSelectionRange(at, at);
    pick.click();
  }

  // Quoted prompts and code blocks in a reply get "Use in Generate": the Generate page, the text as its prompt.
  function promptLinks(root) {
    var form = composer();
    var url = form && form.getAttribute("data-generate-url");
    if (!url) return;
    root.querySelectorAll(".msg-assistant [data-rendered] blockquote, .msg-assistant [data-rendered] pre").forEach(function (block) {
      if (block.nextElementSibling && block.nextElementSibling.matches(".use-in-generate")) return;
      var text = block.innerText.trim();
      if (!text || text.length > 4000) return;
      var link = document.createElement("a");
      link.className = "use-in-generate small";
      link.href = url + "?prompt=" + encodeURIComponent(text);
      link.textContent = "Use in Generate";
      block.after(link);
    });
  }

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    if (input.matches("[data-composer-input]")) {
      event.preventDefault();
      var form = composer();
      if (!form.querySelector("[data-send]").disabled) form.requestSubmit();
    } else if (input.matches("[data-edit-input]") && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      input.form.requestSubmit();
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-composer-input]")) {
      atPicks(event);
      updateSend();
      var input = event.target;
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, window.innerHeight * 0.4) + "px";
    }
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-model-select]")) syncThinking();
    if (event.target.closest && event.target.closest("#composer")) updateSend();
  });

  // A sent message: clear the composer for the next one (with a new token: a new message is a new purchase).
  function resetComposer() {
    var form = composer();
    if (!form) return;
    var input = form.querySelector("[data-composer-input]");
    input.value = "";
    input.style.height = "";
    form.querySelectorAll(".ref-item").forEach(function (item) { item.remove(); });
    var token = form.querySelector("input[name=token]");
    if (token) token.value = uuid();
    updateSend();
    input.focus();
  }

  // --- Clicks: suggestions, copy buttons, edit cancel ---------------------------------------------------------
  function copyText(text, button) {
    function done() {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    done();
  }

  document.addEventListener("click", function (event) {
    var suggest = event.target.closest("[data-suggest]");
    if (suggest) {
      var input = document.querySelector("[data-composer-input]");
      if (input) {
        input.value = suggest.getAttribute("data-suggest");
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.focus();
      }
      return;
    }
    var copyCode = event.target.closest(".copy-code");
    if (copyCode) {
      var code = copyCode.closest(".code-block").querySelector("code");
      copyText(code.textContent, copyCode);
      return;
    }
    var copyMessage = event.target.closest("[data-copy-message]");
    if (copyMessage) {
      copyText(copyMessage.closest("article").querySelector("[data-rendered]").innerText.trim(), copyMessage);
      return;
    }
    var toggle = event.target.closest("[data-conv-toggle]");
    if (toggle) {
      var sidebar = toggle.closest("[data-chat-sidebar]");
      var open = sidebar.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.textContent = open ? "Hide" : "Show all";
      return;
    }
    var cancel = event.target.closest("[data-edit-cancel]");
    if (cancel) {
      var details = cancel.closest("details");
      details.removeAttribute("open");
      details.querySelector("summary").focus();
    }
  });

  // The settings' title field takes a title written while the page was open, unless someone is editing it.
  function syncTitleField() {
    var heading = document.getElementById("chat-title");
    var field = document.getElementById("conv-title");
    if (!heading || !field || !field.defaultValue || field.value !== field.defaultValue || document.activeElement === field) return;
    field.value = field.defaultValue = heading.textContent;
  }

  // After any swap: follow new live replies, let go of the ones no longer on the page.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("article[data-following]").forEach(function (article) {
      if (!document.body.contains(article) && article._source) article._source.close();
    });
    followAll();
    updateSend();
    syncThinking();
    promptLinks(document);
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    // Replies about to be swapped out stop being followed here (the reply itself carries on on the server).
    var target = event.detail.target;
    if (target && target.querySelectorAll) {
      target.querySelectorAll("article[data-following]").forEach(function (article) {
        if (article._source) { article._source.close(); article._source = null; }
      });
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    followAll();
    updateSend();
    syncThinking();
    promptLinks(document);
    document.body.addEventListener("chat:done", function () { promptLinks(document); });
    // A new conversation's first reply is followed by a title a model writes: look at the list (and the heading,
    // sent with it) again a little later, while the heading says the title is still to come.
    document.body.addEventListener("chat:done", function (event) {
      if (!event.detail || event.detail.status !== "complete") return;
      [3000, 8000, 20000].forEach(function (ms) {
        setTimeout(function () {
          if (document.querySelector("#chat-title[data-title-pending]")) document.body.dispatchEvent(new CustomEvent("chat:retitle"));
        }, ms);
      });
    });
    document.body.addEventListener("htmx:oobAfterSwap", syncTitleField);
    if (document.querySelector("#thread li")) window.scrollTo(0, document.documentElement.scrollHeight);
  });
})();
