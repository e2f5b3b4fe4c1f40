/// The page's style sheet and its one script, served from /static/ (in the source for the
/// same reason as the templates). No build step: plain CSS and plain JavaScript.
enum Assets {
    static let css = #"""
    :root { --ink: #1d2430; --muted: #5b6472; --line: #d5dae1; --bg: #f6f7f9; --card: #fff;
            --accent: #0b5cad; --ok: #1b7a3a; --warn: #8a5a00; --bad: #b3261e; --focus: #ffbf47; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
    a { color: var(--accent); }
    :focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
    .skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; z-index: 10; }
    .skip:focus { left: .5rem; }
    header.top { background: #102a43; color: #fff; padding: .5rem 1rem; }
    header.top a { color: #fff; }
    .bar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; }
    .brand { font-weight: 700; font-size: 1.15rem; text-decoration: none; }
    .node { color: #c9d6e3; font-size: .9rem; }
    .logout { margin-left: auto; }
    button.link { background: none; border: 0; color: #fff; text-decoration: underline; cursor: pointer; font: inherit; padding: 0; }
    nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: .5rem 0; padding: 0; }
    nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
    .count { display: inline-block; min-width: 1.4em; padding: 0 .3em; border-radius: 1em; background: #fff; color: #102a43; text-align: center; font-size: .85em; }
    form.search { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
    form.search label { position: absolute; left: -999px; }
    form.search input { flex: 1 1 12rem; }
    input, select, textarea, button { font: inherit; }
    input, select, textarea { padding: .4rem .5rem; border: 1px solid #8a94a3; border-radius: 4px; background: #fff; color: var(--ink); max-width: 100%; }
    input[disabled], select[disabled], textarea[disabled], fieldset[disabled] input { background: #eceef1; color: var(--muted); }
    button, .button { display: inline-block; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; text-decoration: none; cursor: pointer; }
    button[disabled] { opacity: .5; cursor: not-allowed; }
    button.danger { background: var(--bad); border-color: var(--bad); }
    button.keep { background: var(--ok); border-color: var(--ok); }
    .status { padding: .4rem 1rem; font-size: .95rem; border-bottom: 1px solid var(--line); }
    .status-online { background: #e5f4ea; }
    .status-degraded { background: #fff4d6; }
    .status-offline, .status-unreachable { background: #fde7e5; font-weight: 600; }
    .pending { margin-left: .5rem; }
    .notice { background: #fff4d6; padding: .5rem 1rem; border-bottom: 1px solid var(--line); }
    main, #flashes { max-width: 70rem; margin: 0 auto; padding: 1rem; }
    #flashes { padding-bottom: 0; }
    #flashes:empty { display: none; }
    main:focus { outline: none; }
    h1 { font-size: 1.6rem; margin: .5rem 0 1rem; overflow-wrap: anywhere; }
    h2 { font-size: 1.2rem; margin-top: 1.75rem; }
    .flash { padding: .6rem .8rem; border-radius: 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .flash-ok { background: #e5f4ea; border: 1px solid var(--ok); }
    .flash-error { background: #fde7e5; border: 1px solid var(--bad); }
    .facts { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: .35rem 1rem; margin: 0; }
    .facts dt { font-weight: 600; color: var(--muted); }
    .facts dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
    .value + .value::before { content: " · "; color: var(--muted); }
    .none { color: var(--muted); }
    .key { color: var(--muted); font-family: ui-monospace, monospace; font-size: .85em; }
    .badge { display: inline-block; font-size: .75rem; padding: 0 .4rem; border-radius: .6rem; background: #e4e7eb; color: var(--ink); vertical-align: middle; }
    .badge.conflict { background: #fde7e5; color: var(--bad); font-weight: 600; }
    .cards { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .75rem; }
    .cards a { display: block; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8rem; text-decoration: none; }
    .big { display: block; font-size: 1.6rem; font-weight: 700; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; background: var(--card); }
    caption { text-align: left; color: var(--muted); padding: .3rem 0; }
    th, td { text-align: left; vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
    thead th { background: #eef1f5; }
    td.online { color: var(--ok); font-weight: 600; }
    td.offline { color: var(--bad); }
    form.edit .field { margin: .8rem 0; }
    form.edit label, form.edit legend { display: block; font-weight: 600; }
    form.edit input[type=text], form.edit input[type=number], form.edit input[type=date], form.edit textarea, form.edit select, form.edit input:not([type]) { width: 100%; max-width: 36rem; }
    .type { font-weight: 400; color: var(--muted); font-size: .85em; overflow-wrap: anywhere; }
    fieldset { border: 1px solid var(--line); border-radius: 4px; min-width: 0; }
    form.edit label, form.edit legend, .why, .readonly-note { overflow-wrap: anywhere; }
    label.member { display: block; font-weight: 400 !important; }
    .why, .readonly-note { color: var(--warn); margin: .25rem 0; }
    .field.in-conflict label { color: var(--bad); }
    .siblings { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: .75rem; }
    .sibling { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; display: flex; flex-direction: column; }
    .sibling .value { font-size: 1.1rem; font-weight: 600; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 .5rem; }
    .sibling .who { color: var(--muted); margin: 0 0 .75rem; }
    .sibling form { margin-top: auto; }
    .conflict-field { margin-bottom: 1.5rem; }
    .results li { margin: .5rem 0; }
    .matches { color: var(--muted); font-size: .9rem; }
    .crumbs { margin: 0; color: var(--muted); }
    form.inline { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
    footer { color: var(--muted); font-size: .85rem; text-align: center; padding: 2rem 1rem; }
    @media (max-width: 40rem) {
      .facts { grid-template-columns: 1fr; }
      .facts dd { margin-bottom: .5rem; }
      main { padding: .75rem; }
      h1 { font-size: 1.35rem; }
    }
    """#

    /// Live updates: the server sends `status` (sync mode, own edits waiting for the hub)
    /// and `change` (the node's version moved) as server-sent events. On a change the page
    /// has not drawn yet (its body carries the version it was drawn at) it fetches itself
    /// again and swaps in the new main part, unless the person is editing a form (or a field
    /// has the focus): then it only says so. Text goes in with textContent; the swapped-in
    /// HTML is this server's own escaped rendering, and the content security policy allows
    /// no inline script.
    static let js = #"""
    (function () {
      'use strict';
      var dirty = false;
      var refreshing = false;
      var again = false;
      window.memberSyncLive = { refreshes: 0, status: null };

      document.addEventListener('input', function (e) {
        if (e.target && e.target.form && e.target.form.method === 'post') { dirty = true; }
      });
      document.addEventListener('submit', function (e) {
        var f = e.target;
        var question = f.getAttribute('data-confirm');
        if (question && !window.confirm(question)) { e.preventDefault(); return; }
        dirty = false;
      });

      function setStatus(s) {
        window.memberSyncLive.status = s;
        var box = document.getElementById('status');
        if (!box) { return; }
        box.className = 'status status-' + s.css;
        document.getElementById('status-label').textContent = s.label;
        document.getElementById('status-pending').textContent = s.pending_text || '';
      }

      // Someone typing, or about to type, in a form of the page: do not pull it away.
      function editing() {
        var a = document.activeElement;
        var main = document.getElementById('main');
        var typing = a && main && main.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) &&
          a.type !== 'hidden' && a.type !== 'submit' && a.type !== 'checkbox';
        return dirty || typing;
      }

      function refresh(version) {
        if (editing()) { document.getElementById('changed').hidden = false; return; }
        if (refreshing) { again = true; return; }
        refreshing = true;
        fetch(window.location.href, { credentials: 'same-origin', headers: { 'X-MemberSync-Live': '1' } })
          .then(function (r) { return r.text(); })
          .then(function (html) {
            var doc = new DOMParser().parseFromString(html, 'text/html');
            var fresh = doc.getElementById('main');
            var main = document.getElementById('main');
            if (fresh && main && !editing()) {
              var focused = document.activeElement && document.activeElement.id;
              main.innerHTML = fresh.innerHTML;
              if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
              document.getElementById('changed').hidden = true;
              var count = doc.getElementById('conflict-count');
              if (count && document.getElementById('conflict-count')) {
                document.getElementById('conflict-count').textContent = count.textContent;
              }
              var drawn = doc.body && doc.body.getAttribute('data-version');
              if (drawn) { document.body.setAttribute('data-version', drawn); }
              window.memberSyncLive.refreshes += 1;
              document.body.setAttribute('data-refreshes', String(window.memberSyncLive.refreshes));
            }
          })
          .catch(function () {})
          .then(function () {
            refreshing = false;
            if (again) { again = false; refresh(); }
          });
      }

      document.addEventListener('click', function (e) {
        if (e.target && e.target.id === 'show-new') {
          dirty = false;
          document.getElementById('changed').hidden = true;
          refresh();
        }
      });

      if (window.EventSource && document.body.getAttribute('data-live') === 'on') {
        var source = new EventSource('/events');
        source.addEventListener('status', function (e) { setStatus(JSON.parse(e.data)); });
        source.addEventListener('change', function (e) {
          // A page drawn after this change shows it already.
          var data = JSON.parse(e.data);
          if (data.version !== document.body.getAttribute('data-version')) { refresh(data.version); }
        });
        source.addEventListener('error', function () {
          setStatus({ css: 'unreachable', label: 'This page lost its connection to the node; trying again…', pending_text: '' });
        });
      }
    })();
    """#
}
