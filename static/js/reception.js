/* Reception calendar: EventCalendar fed by /reception/api/..., click to book, drag to move
   (with the override dialog), click an appointment for its panel.

   The server sends the clinic's wall-clock times without an offset, so the browser's own zone
   never shifts anything: a Date's UTC fields are the clinic's clock. The calendar's time zone is
   the clinic's current UTC offset (from the server), which only places the "now" line and
   "today" on the clinic's clock; floating event times are not shifted by it. */
(function () {
  "use strict";
  var el = document.getElementById("calendar");
  if (!el || !window.EventCalendar) { return; }
  var cfg = el.dataset;
  var editable = cfg.editable === "true";
  var by = cfg.by;
  // The practitioners chosen (?p=1&p=3): the feeds show only theirs. One practitioner's
  // week is a plain week grid (a column per day), not a resource view.
  var chosen = (cfg.practitioners || "").split(",").filter(Boolean);
  var only = chosen.map(function (id) { return "&p=" + encodeURIComponent(id); }).join("");
  var single = cfg.single || "";
  var DAY = single ? "timeGridDay" : "resourceTimeGridDay";
  var WEEK = single ? "timeGridWeek" : "resourceTimeGridWeek";
  var panel = document.getElementById("panel");
  var dialog = document.getElementById("move-dialog");
  var status = document.getElementById("calendar-status");
  // Words on screen come translated from the page (data-t-* on #calendar); English if missing.
  function t(key, english) { return cfg["t" + key] || english; }

  function pad(n) { return String(n).padStart(2, "0"); }
  function wall(d) {
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      "T" + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":00";
  }
  function day(d) { return wall(d).slice(0, 10); }
  function say(text) { if (status) { status.textContent = text; } }
  function getJSON(url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }
  function feed(url) {
    return function (info) {
      return getJSON(url + "?by=" + by + only + "&start=" + wall(info.start) + "&end=" + wall(info.end))
        .catch(function () { say(t("LoadFailed", "Could not load the calendar; reload the page.")); return []; });
    };
  }
  function calendarUrl() { return window.location.pathname + window.location.search; }

  // --- the appointment panel ---------------------------------------------------------------
  function openPanel(id) {
    var url = cfg.panelUrl.replace("/0", "/" + id) + "?partial=1&next=" + encodeURIComponent(calendarUrl());
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.text(); }).then(function (html) {
      panel.innerHTML = html;
      panel.hidden = false;
      panel.focus();
      var close = panel.querySelector("[data-close]");
      if (close) { close.addEventListener("click", function () { panel.hidden = true; }); }
    });
  }

  // --- moving by drag, with the override dialog ----------------------------------------------
  var pending = null;
  function move(info, reason, replan) {
    var body = {start: wall(info.event.start)};
    if (replan) { body.replan_following = true; }
    if (info.newResource && by === "practitioner") { body.practitioner_id = Number(String(info.newResource.id).slice(1)); }
    else if (single) { body.practitioner_id = Number(single); }
    if (reason) { body.override_reason = reason; }
    return fetch(cfg.moveUrl.replace("/0/", "/" + info.event.id + "/"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": cfg.csrf},
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); });
  }
  function showProblems(info, error) {
    pending = info;
    var list = dialog.querySelector("#move-problems");
    list.innerHTML = "";
    (error.problems || [{message: error.message, code: error.code}]).forEach(function (p) {
      var li = document.createElement("li");
      li.textContent = p.message;  // words on screen; the codes are for the API
      list.appendChild(li);
    });
    var overridable = !!error.overridable;
    dialog.querySelector("#move-override").hidden = !overridable;
    dialog.querySelector("#move-confirm").hidden = !overridable;
    dialog.querySelector("#move-blocked").hidden = overridable;
    dialog.querySelector("#override-reason").value = "";
    dialog.querySelector("#override-error").hidden = true;
    dialog.querySelector("#replan-box").hidden = !(overridable && info.event.extendedProps.series);
    dialog.showModal();
  }
  function finish(ok) {
    if (!pending) { return; }
    if (!ok) { pending.revert(); say(t("PutBack", "The appointment was put back.")); }
    pending = null;
    if (dialog.open) { dialog.close(); }
    ec.refetchEvents();
  }
  if (dialog) {
    dialog.querySelector("#move-confirm").addEventListener("click", function () {
      var reason = dialog.querySelector("#override-reason").value.trim();
      var replan = dialog.querySelector("#move-replan").checked && !dialog.querySelector("#replan-box").hidden;
      if (!reason && !replan) {
        dialog.querySelector("#override-error").hidden = false;
        dialog.querySelector("#override-reason").focus();
        return;
      }
      var info = pending;
      move(info, reason, replan).then(function (res) {
        if (res.ok) { say(t("MovedOverride", "Moved, with the override recorded.")); finish(true); } else { showProblems(info, res.data.error); }
      });
    });
    dialog.querySelector("#move-cancel").addEventListener("click", function () { finish(false); });
    dialog.addEventListener("cancel", function () { finish(false); });
  }

  // --- accessibility ---------------------------------------------------------------------------
  // EventCalendar marks its layout up as an ARIA table whose rows also hold the toolbar and the
  // event buttons, which screen readers and axe reject; its prev/next buttons are icons only.
  // Drop the table roles (the text reads in order: dates, columns, times, then each event as a
  // button) and name the icon buttons. New nodes are fixed as the calendar renders them.
  var TABLE_ROLES = "[role=table],[role=grid],[role=rowgroup],[role=row],[role=columnheader],[role=rowheader],[role=cell],[role=gridcell]";
  function plain(root) {
    if (root.matches && root.matches(TABLE_ROLES)) { root.removeAttribute("role"); }
    root.querySelectorAll(TABLE_ROLES).forEach(function (n) { n.removeAttribute("role"); });
    root.querySelectorAll("[aria-colindex],[aria-colspan]").forEach(function (n) {
      n.removeAttribute("aria-colindex"); n.removeAttribute("aria-colspan");
    });
    root.querySelectorAll("span[aria-label],time[aria-label],div[aria-label]").forEach(function (n) {
      n.title = n.getAttribute("aria-label"); n.removeAttribute("aria-label");
    });
    // The grid scrolls sideways when its columns do not fit (a tablet's week): keyboard users
    // reach it too.
    (root.matches && root.matches(".ec-main") ? [root] : []).concat(Array.from(root.querySelectorAll(".ec-main")))
      .forEach(function (n) {
        if (!n.hasAttribute("tabindex")) { n.tabIndex = 0; n.setAttribute("aria-label", t("Grid", "Calendar grid")); }
      });
    root.querySelectorAll("button.ec-prev:not([aria-label])").forEach(function (n) { n.setAttribute("aria-label", t("Previous", "Previous")); });
    root.querySelectorAll("button.ec-next:not([aria-label])").forEach(function (n) { n.setAttribute("aria-label", t("Next", "Next")); });
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      if (r.type === "attributes") {
        if (r.target.hasAttribute(r.attributeName)) { plain(r.target.parentNode || r.target); }
      } else {
        r.addedNodes.forEach(function (n) { if (n.nodeType === 1) { plain(n); } });
      }
    });
  }).observe(el, {childList: true, subtree: true, attributes: true,
                  attributeFilter: ["role", "aria-colindex", "aria-colspan", "aria-label"]});

  // --- the calendar ---------------------------------------------------------------------------
  var ec = EventCalendar.create(el, {
    // No view asked for: a week where there is room for it, else a day.
    view: cfg.view === "day" ? DAY : cfg.view === "week" ? WEEK : (window.innerWidth < 760 ? DAY : WEEK),
    // A column never gets narrower than this: a week of several practitioners on a tablet
    // scrolls sideways inside the calendar's box (the time axis stays put) instead of
    // squeezing each column to a few letters; the page itself never scrolls sideways.
    columnWidth: "minmax(5rem, 1fr)",
    date: cfg.date,
    timeZone: cfg.clinicOffset || "UTC",
    locale: cfg.locale || "en-GB",
    firstDay: 1,
    allDaySlot: false,
    nowIndicator: true,
    datesAboveResources: true,
    slotMinTime: cfg.slotMin,
    slotMaxTime: cfg.slotMax,
    slotDuration: "00:15:00",
    slotLabelInterval: "01:00",
    scrollTime: cfg.slotMin,
    height: "auto",
    headerToolbar: {start: "prev,next today", center: "title", end: DAY + "," + WEEK},
    buttonText: {today: t("Today", "Today"), resourceTimeGridDay: t("Day", "Day"), resourceTimeGridWeek: t("Week", "Week"),
                 timeGridDay: t("Day", "Day"), timeGridWeek: t("Week", "Week")},
    resources: function () { return getJSON(cfg.resourcesUrl + "?by=" + by + only); },
    // Words are never cut mid-letter (reception.css); what does not fit is clipped, and the
    // full text is the box's tooltip.
    eventDidMount: function (info) {
      if (info.event.display !== "background" && info.event.title) { info.el.title = info.event.title; }
    },
    resourceLabelDidMount: function (info) { info.el.title = info.resource.title; },
    eventSources: [{events: feed(cfg.eventsUrl)}, {events: feed(cfg.backgroundUrl)}],
    editable: editable,
    eventDurationEditable: false,
    dragConstraint: function (info) { return by === "practitioner" || !info.newResource; },
    eventClick: function (info) {
      if (info.event.display === "background") { return; }
      openPanel(info.event.id);
    },
    dateClick: function (info) {
      if (!editable) { return; }
      var url = cfg.bookUrl + "?start=" + encodeURIComponent(wall(info.date));
      if (info.resource && by === "practitioner") { url += "&practitioner=" + String(info.resource.id).slice(1); }
      else if (single) { url += "&practitioner=" + single; }
      window.location.assign(url);
    },
    eventDrop: function (info) {
      say(t("Moving", "Moving…"));
      move(info).then(function (res) {
        if (res.ok) {
          say(res.data.overridden ? t("Moved", "Moved.") : t("MovedMailed", "Moved; the patient gets the new time by e-mail."));
          pending = info; finish(true);
        } else {
          showProblems(info, res.data.error);
        }
      }).catch(function () { pending = info; finish(false); say(t("Unreachable", "Could not reach the server; nothing was moved.")); });
    },
    datesSet: function (info) {
      var params = new URLSearchParams(window.location.search);
      params.set("date", day(info.view.currentStart));
      params.set("view", info.view.type === DAY ? "day" : "week");
      window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
      document.querySelectorAll("[data-keep-date]").forEach(function (a) {
        if (a.tagName === "INPUT") { a.value = day(info.view.currentStart); return; }
        var u = new URL(a.href); u.searchParams.set("date", day(info.view.currentStart)); a.href = u.toString();
      });
      document.querySelectorAll("input[data-keep-view]").forEach(function (input) {
        input.value = info.view.type === DAY ? "day" : "week";
      });
    }
  });
  window.receptionCalendar = ec;
  if (cfg.focus) { openPanel(cfg.focus); }
})();
