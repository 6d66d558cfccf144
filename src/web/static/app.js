// Budget editor: line amounts, totals, the grant/self split and the personnel share as the
// applicant types, in integer fen (BigInt), never floating point. The server recomputes and
// decides; this only shows what it will compute.
(function () {
  "use strict";
  // "12.5" -> 1250n (hundredths); null when not a number with at most 2 fraction digits.
  function hundredths(text) {
    var s = (text || "").trim();
    var m = /^(\d{1,15})(?:\.(\d{1,2}))?$/.exec(s);
    if (!m) return null;
    var frac = (m[2] || "").padEnd(2, "0");
    return BigInt(m[1]) * 100n + BigInt(frac);
  }
  function yuan(fen) {
    var neg = fen < 0n;
    if (neg) fen = -fen;
    var int = (fen / 100n).toString();
    var frac = (fen % 100n).toString().padStart(2, "0");
    var grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + "¥" + grouped + "." + frac;
  }
  function recompute(form) {
    var total = 0n, grant = 0n, self = 0n, personnel = 0n;
    form.querySelectorAll("tr.line").forEach(function (row) {
      var q = hundredths(row.querySelector(".qty").value);
      var c = hundredths(row.querySelector(".cost").value);
      var cell = row.querySelector(".amount");
      if (q === null || c === null) { cell.textContent = ""; return; }
      // quantity (hundredths) x unit cost (fen) / 100, rounded half up to the fen.
      var amount = (q * c + 50n) / 100n;
      cell.textContent = yuan(amount);
      total += amount;
      if (row.querySelector("select[name=funded_by]").value === "grant") grant += amount; else self += amount;
      if (row.querySelector("select[name=category]").value === "personnel") personnel += amount;
    });
    var out = form.querySelector("#live-totals");
    out.hidden = false;
    out.querySelector("[data-total]").textContent = yuan(total);
    out.querySelector("[data-grant]").textContent = yuan(grant);
    out.querySelector("[data-self]").textContent = yuan(self);
    out.querySelector("[data-personnel]").textContent = yuan(personnel);
    // Share in basis points, rounded up like the server's figure, so a breach never shows as the limit.
    var bp = total === 0n ? 0n : (personnel * 10000n + total - 1n) / total;
    var share = out.querySelector("[data-share]");
    share.textContent = (bp / 100n).toString() + "." + (bp % 100n).toString().padStart(2, "0") + "%";
    var limit = BigInt(form.dataset.limitBp || "5000");
    share.classList.toggle("error", personnel * 10000n > limit * total);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("budget-form");
    if (!form) return;
    var body = form.querySelector("#budget-editor tbody");
    var add = form.querySelector("#add-line");
    add.hidden = false;
    add.addEventListener("click", function () {
      var rows = body.querySelectorAll("tr.line");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      copy.querySelector(".amount").textContent = "";
      body.appendChild(copy);
      recompute(form);
    });
    body.addEventListener("click", function (e) {
      if (e.target.classList.contains("remove-line")) {
        var row = e.target.closest("tr");
        if (body.querySelectorAll("tr.line").length > 1) row.remove();
        else row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
        recompute(form);
      }
    });
    form.addEventListener("input", function () { recompute(form); });
    form.addEventListener("change", function () { recompute(form); });
    recompute(form);
  });
})();
