/* Date and time fields in the page's language (issue 16).

   A browser draws <input type="date"> (datetime-local, time) in its own language, not the
   page's: an American Chrome shows mm/dd/yyyy and 02:30 PM on an Italian page, where 02/12 reads
   as the 2nd of December. So every such field is marked with the page's language (a browser that
   honours lang= draws it in that language) and gets the chosen date or time written out in the
   page's language right under it ("giovedì 24 dicembre 2026", "14:30"), kept up to date as it
   changes and read with the field (aria-describedby). The value sent is the field's own, untouched. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var locale = lang === "en" ? "en-GB" : lang;  // the clinic's English: 24 December, not December 24
  // The field's value is a wall-clock date (and time): formatted as UTC, so no zone shifts it.
  var day = {weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC"};
  var formats = {
    date: new Intl.DateTimeFormat(locale, day),
    "datetime-local": new Intl.DateTimeFormat(locale, Object.assign({hour: "2-digit", minute: "2-digit"}, day)),
    time: new Intl.DateTimeFormat(locale, {hour: "2-digit", minute: "2-digit", timeZone: "UTC"})
  };
  var DATE = /^(\d{4})-(\d{2})-(\d{2})/;
  var TIME = /(?:^|T)(\d{2}):(\d{2})/;

  function written(input) {
    var d = DATE.exec(input.value), t = TIME.exec(input.value);
    if ((input.type !== "time" && !d) || (input.type !== "date" && !t)) { return ""; }
    var moment = new Date(Date.UTC(d ? +d[1] : 2000, d ? +d[2] - 1 : 0, d ? +d[3] : 1, t ? +t[1] : 0, t ? +t[2] : 0));
    return formats[input.type].format(moment);
  }

  var FIELDS = 'input[type="date"], input[type="datetime-local"], input[type="time"]';
  document.querySelectorAll(FIELDS).forEach(function (input, n) {
    input.lang = lang;
    var echo = document.createElement("span");
    echo.className = "date-written hint";
    echo.id = (input.id || input.name || "date-field-" + n) + "-written";
    // After the field, or after its label when the label wraps it (not part of its name).
    (input.closest("label") || input).insertAdjacentElement("afterend", echo);
    var described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", described ? described + " " + echo.id : echo.id);
    function update() { echo.textContent = written(input); }
    input.addEventListener("input", update);
    input.addEventListener("change", update);
    update();
  });
})();
