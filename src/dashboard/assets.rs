//! The dashboard's only assets, compiled into the binary: the style sheet (readable from a
//! phone's width up: tables scroll inside their box, sections stack) and the small script
//! that keeps a page live. The script opens one server-sent event stream for the page's
//! own path and query and puts each `main` event's HTML (rendered and escaped by the
//! server) into the page's live region; there is no build step and no library. Without
//! JavaScript, the page refreshes itself (a `<noscript>` meta refresh).

/// `/assets/dashboard.css`.
pub const CSS: &str = r#"
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#202124;background:#f8f9fa}
header{background:#202124;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#fff}header .brand{font-weight:600;margin-right:1rem}
header nav a{margin-right:1rem}header nav a[aria-current]{text-decoration:none;border-bottom:2px solid #8ab4f8}
main,#control{padding:1rem;max-width:80rem;margin:0 auto}
section.card{background:#fff;border:1px solid #dadce0;border-radius:6px;padding:1rem;margin-bottom:1rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.2rem;margin:0 0 .6rem}h3{font-size:1rem;margin:1rem 0 .4rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e8eaed;white-space:nowrap}
td.wrap{white-space:normal;word-break:break-word}
th{background:#f1f3f4}
.big{font-size:1.6rem;font-weight:600}
.muted{color:#5f6368}.error{color:#d93025;font-weight:600}.ok{color:#1e8e3e}
svg.bar{width:100%;height:1.2rem;display:block;border-radius:3px;background:#e8eaed}
figure.chart{margin:0}figure.chart svg{width:100%;height:10rem;display:block;background:#f1f3f4}
.swatch{display:inline-block;width:.8em;height:.8em;margin:0 .25em 0 .6em;vertical-align:middle;border-radius:2px}
.state{display:inline-block;padding:0 .4em;border-radius:3px;color:#fff;font-size:.85em}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:.6rem}
form.filters label,form.control label{display:flex;flex-direction:column;font-size:.85rem}
input,select,button{font:inherit;padding:.25rem .4rem}
button{cursor:pointer}
form.control{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.4rem 0}
.pager a,.pager span{margin-right:.6rem}
#livestate{font-size:.8rem;margin-left:auto}
dl.record{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.record dt{font-weight:600}dl.record dd{margin:0;word-break:break-word}
@media (max-width:40rem){main,#control{padding:.5rem}section.card{padding:.6rem}th,td{padding:.25rem .3rem}}
"#;

/// `/assets/live.js`.
pub const JS: &str = r#"(function () {
  var live = document.getElementById('live');
  var mark = document.getElementById('livestate');
  if (!live || !window.EventSource) return;
  var path = location.pathname + location.search;
  var updates = 0;
  var es = null;
  function open() {
    es = new EventSource('/events?path=' + encodeURIComponent(path));
    es.addEventListener('main', function (e) {
      live.innerHTML = JSON.parse(e.data);
      updates += 1;
      document.documentElement.setAttribute('data-updates', String(updates));
      if (mark) mark.textContent = 'live, updated ' + new Date().toLocaleTimeString();
    });
    es.onopen = function () { if (mark) mark.textContent = 'live'; };
    es.onerror = function () { if (mark) mark.textContent = 'reconnecting'; };
  }
  // A page left for another is kept by the browser (back/forward cache) with its stream
  // open, and a browser opens only a few connections per server: close it, and open it
  // again if the page is shown again.
  window.addEventListener('pagehide', function () { if (es) { es.close(); es = null; } });
  window.addEventListener('pageshow', function (e) { if (e.persisted && !es) open(); });
  open();
})();
"#;
