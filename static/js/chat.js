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

  function follow(article) {
    if (article._source) return;
    var rendered = article.querySelector("[data-rendered]");
    var tail = article.querySelector("[data-tail]");
    var thinking = article.querySelector("[data-thinking]");
    var url = article.getAttribute("data-stream") + "?after=" + (article.getAttribute("data-seq") || "0");
    var source = new EventSource(url);
    article._source = source;
    article.setAttribute("data-following", "");

    function data(event) { return JSON.parse(event.data); }
    function mark(event) { article.setAttribute("data-seq", event.lastEventId || article.getAttribute("data-seq")); }

    source.addEventListener("open", function () { setState(article, ""); });
    source.addEventListener("delta", function (event) {
      var near = nearBottom();
      var text = data(event).t;
      tail.append(document.createTextNode(text));
      article.setAttribute("data-has-text", "");
      mark(event);
      queueAnnouncement(text);
      keepDown(near);
    });
    source.addEventListener("block", function (event) {
      var near = nearBottom();
      var d = data(event);
      rendered.innerHTML = d.html; // sanitised on the server (markdown-it without raw HTML, then nh3)
      tail.textContent = d.tail;
      article.setAttribute("data-has-text", "");
      mark(event);
      queueAnnouncement(d.t || "");
      keepDown(near);
    });
    source.addEventListener("snapshot", function (event) {
      var d = data(event);
      rendered.innerHTML = d.html; // sanitised on the server
      tail.textContent = d.tail;
      if (thinking) thinking.textContent = d.thinking || "";
      article.setAttribute("data-has-text", "");
      mark(event);
    });
    source.addEventListener("think", function (event) {
      if (thinking) thinking.append(document.createTextNode(data(event).t));
      mark(event);
    });
    source.addEventListener("done", function (event) {
      source.close();
      article._source = null;
      var d = data(event);
      var near = nearBottom();
      var holder = document.createElement("div");
      holder.innerHTML = d.html; // our own template, rendered for this user
      var fresh = holder.firstElementChild;
      if (fresh) {
        article.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
      }
      var words = { complete: "Reply complete.", stopped: "Reply stopped.", failed: "The reply failed.", interrupted: "The reply was interrupted." };
      flushAnnouncement(words[d.status] || "");
      keepDown(near);
      document.body.dispatchEvent(new CustomEvent("chat:done", { detail: { status: d.status } }));
    });
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

  // --- The composer -------------------------------------------------------------------------------------------
  function composer() { return document.getElementById("composer"); }

  function updateSend() {
    var form = composer();
    if (!form) return;
    var input = form.querySelector("[data-composer-input]");
    var send = form.querySelector("[data-send]");
    var hasImages = form.querySelectorAll(".ref-item").length > 0;
    send.disabled = !(input.value.trim() || hasImages);
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
    if (input && option) input.placeholder = "Message " + option.textContent.trim() + "…";
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

  // A sent message: clear the composer (the server sent a fresh token with the new thread).
  document.body.addEventListener("chat:sent", function () {
    var form = composer();
    if (!form) return;
    var input = form.querySelector("[data-composer-input]");
    input.value = "";
    input.style.height = "";
    form.querySelectorAll(".ref-item").forEach(function (item) { item.remove(); });
    updateSend();
    input.focus();
  });

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
    var cancel = event.target.closest("[data-edit-cancel]");
    if (cancel) {
      var details = cancel.closest("details");
      details.removeAttribute("open");
      details.querySelector("summary").focus();
    }
  });

  // After any swap: follow new live replies, let go of the ones no longer on the page.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("article[data-following]").forEach(function (article) {
      if (!document.body.contains(article) && article._source) article._source.close();
    });
    followAll();
    updateSend();
    syncThinking();
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
    if (document.querySelector("#thread li")) window.scrollTo(0, document.documentElement.scrollHeight);
  });
})();
