// camkit default theme: small progressive enhancements. The host's player and
// chat scripts do the real work; nothing here is needed for a page to work.

// Forms that carry data-autosubmit (a checkout that posts to the processor)
// submit themselves; their button stays for browsers without JavaScript.
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  form.submit();
}

// The private-show clock and cost are not ticked here: billing pauses when
// video stops, and only the host knows when; its scripts update them.

// Keep the chat scrolled to the newest line as messages arrive.
for (const log of document.querySelectorAll("[data-chat-log]")) {
  log.scrollTop = log.scrollHeight;
  new MutationObserver(() => { log.scrollTop = log.scrollHeight; }).observe(log, { childList: true });
}
