/// The page templates (Mustache). They live in the source rather than in resource files so
/// the installed daemon, a single static binary (scripts/install.sh), carries them.
///
/// Every template is registered with the `MSHTML` content type (`VisibleHTML`): `{{name}}`
/// escapes HTML and shows control characters. Only the layout uses `{{{body}}}`, for the page
/// it wraps, which was itself rendered with escaping; `WebTests` checks that no other
/// template writes a value unescaped.
enum Templates {
    static let all: [String: String] = [
        "layout": layout, "home": home, "collection": collection, "record": record, "fields": fields,
        "history": history, "new": newRecord, "search": search, "conflicts": conflicts,
        "siblings": siblings, "federation": federation, "message": message,
    ]

    static let layout = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="csrf-token" content="{{csrf}}">
    <title>{{title}} · MemberSync · {{node_id}}</title>
    <link rel="stylesheet" href="/static/app.css">
    <script src="/static/app.js" defer></script>
    </head>
    <body data-live="{{#live}}on{{/live}}{{^live}}off{{/live}}" data-version="{{version_stamp}}">
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <div class="bar">
        <a class="brand" href="/">MemberSync</a>
        <span class="node">{{node_id}} · {{organisation}} · {{role}}</span>
        {{#logged_in}}
        <form class="logout" method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="link">Log out</button></form>
        {{/logged_in}}
      </div>
      {{#logged_in}}
      <nav aria-label="Main">
        <ul>
          {{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}
          <li><a href="/conflicts"{{#conflicts_current}} aria-current="page"{{/conflicts_current}}>Conflicts <span class="count" id="conflict-count">{{conflict_count}}</span></a></li>
          <li><a href="/federation"{{#federation_current}} aria-current="page"{{/federation_current}}>Federation</a></li>
        </ul>
      </nav>
      <form class="search" role="search" method="get" action="/search">
        <label for="site-search">Search</label>
        <input id="site-search" name="q" type="search" value="{{query}}" placeholder="Name, id, topic…" autocomplete="off">
        <button type="submit">Search</button>
      </form>
      {{/logged_in}}
    </header>
    {{#logged_in}}
    <div id="status" class="status status-{{status.css}}" role="status" aria-live="polite">
      <span id="status-label">{{status.label}}</span>
      <span id="status-pending" class="pending">{{status.pending_text}}</span>
    </div>
    <div id="changed" class="notice" role="status" hidden>
      This page changed at another office while you were editing.
      <button type="button" id="show-new">Show the new version</button>
    </div>
    {{/logged_in}}
    <div id="flashes">{{#flashes}}<p class="flash flash-{{kind}}" role="{{#is_error}}alert{{/is_error}}{{^is_error}}status{{/is_error}}">{{message}}</p>{{/flashes}}</div>
    <main id="main" tabindex="-1">
    {{{body}}}
    </main>
    <footer><p>MemberSync {{software_version}} · node {{node_id}}</p></footer>
    </body>
    </html>
    """#

    static let home = #"""
    <h1>{{node_id}}</h1>
    <section aria-labelledby="h-node">
      <h2 id="h-node">This node</h2>
      <dl class="facts">
        <dt>Organisation</dt><dd><a href="/r/organisations/{{organisation}}">{{organisation}}</a></dd>
        <dt>Role</dt><dd>{{role}}</dd>
        <dt>Sync</dt><dd>{{mode_label}}{{#has_active_hub}} ({{active_hub}}){{/has_active_hub}}</dd>
        <dt>Own edits waiting for the hub</dt><dd>{{pending}}</dd>
        <dt>Records</dt><dd>{{records}}</dd>
        <dt>Open conflicts</dt><dd><a href="/conflicts">{{conflicts}}</a></dd>
        <dt>Health</dt><dd>{{health}}{{#health_reasons}} — {{.}}{{/health_reasons}}</dd>
        <dt>Refused edits</dt><dd>{{refused_count}}</dd>
      </dl>
    </section>
    {{#has_refused}}
    <section aria-labelledby="h-refused">
      <h2 id="h-refused">Refused edits</h2>
      <p>The hub refused these edits made here: they take no effect, and are not sent again and again.</p>
      <ul class="refused">
        {{#refused}}<li><a href="{{href}}">{{key}}</a> <code>{{summary}}</code>: {{reason}} — {{detail}} <span class="when">({{at}})</span></li>{{/refused}}
      </ul>
      {{#has_refused_more}}<p>and {{refused_more}} more (<code>membersync refused</code> lists them all)</p>{{/has_refused_more}}
    </section>
    {{/has_refused}}
    <section aria-labelledby="h-coll">
      <h2 id="h-coll">Collections</h2>
      <ul class="cards">
        {{#collections}}<li><a href="{{href}}"><span class="big">{{count}}</span> {{label}}</a></li>{{/collections}}
      </ul>
    </section>
    """#

    static let collection = #"""
    <h1>{{label}}</h1>
    <p class="actions">
      {{#can_create}}<a class="button" href="{{new_href}}">New {{singular}}</a>{{/can_create}}
      {{^can_create}}<span class="readonly-note">You cannot create {{label}} here: {{create_reason}}</span>{{/can_create}}
    </p>
    {{#has_records}}
    <div class="scroll">
    <table>
      <caption>{{count}} {{label}}</caption>
      <thead><tr><th scope="col">Record</th>{{#columns}}<th scope="col">{{.}}</th>{{/columns}}</tr></thead>
      <tbody>
      {{#records}}
        <tr><th scope="row"><a href="{{href}}">{{title}}</a> <span class="key">{{id}}</span>{{#conflicted}} <span class="badge conflict">conflict</span>{{/conflicted}}</th>
        {{#cells}}<td>{{.}}</td>{{/cells}}</tr>
      {{/records}}
      </tbody>
    </table>
    </div>
    {{/has_records}}
    {{^has_records}}<p>No {{label}} yet.</p>{{/has_records}}
    """#

    static let record = #"""
    <p class="crumbs"><a href="/c/{{collection}}">{{collection_label}}</a> / <span class="key">{{id}}</span></p>
    <h1>{{title}}</h1>
    {{#has_error}}<p class="flash flash-error" role="alert" id="form-error">{{error}}</p>{{/has_error}}
    {{#has_conflicts}}
    <section class="conflicts" aria-labelledby="h-conf">
      <h2 id="h-conf">Conflicts on this record</h2>
      {{#conflicts}}{{> siblings}}{{/conflicts}}
    </section>
    {{/has_conflicts}}
    <section aria-labelledby="h-fields">
      <h2 id="h-fields">Fields</h2>
      <dl class="facts">
      {{#shown}}
        <dt>{{label}}{{#conflicted}} <span class="badge conflict">conflict</span>{{/conflicted}}</dt>
        <dd data-field="{{name}}">{{#values}}<span class="value">{{#is_link}}<a href="{{href}}">{{text}}</a>{{#missing}} <span class="badge">not here yet</span>{{/missing}}{{/is_link}}{{^is_link}}{{text}}{{/is_link}}</span>{{/values}}{{^values}}<span class="none">—</span>{{/values}}</dd>
      {{/shown}}
      </dl>
    </section>
    {{#related}}
    <section aria-labelledby="h-rel-{{name}}">
      <h2 id="h-rel-{{name}}">{{label}}</h2>
      <ul class="related">{{#items}}<li><a href="{{href}}">{{title}}</a> <span class="key">{{key}}</span>{{#has_extra}} <span class="extra">{{extra}}</span>{{/has_extra}}</li>{{/items}}</ul>
    </section>
    {{/related}}
    <section aria-labelledby="h-edit">
      <h2 id="h-edit">Edit</h2>
      {{^edit_allowed}}<p class="readonly-note" id="edit-reason">Read-only here: {{edit_reason}}</p>{{/edit_allowed}}
      <form method="post" action="{{record_url}}" class="edit" id="edit-form">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{> fields}}
        <p><button type="submit" id="save"{{^any_writable}} disabled{{/any_writable}}>Save</button></p>
      </form>
      {{#delete_allowed}}
      <form method="post" action="{{record_url}}/delete" data-confirm="Delete {{key}}? Other offices will see it deleted too.">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit" class="danger">Delete this record</button>
      </form>
      {{/delete_allowed}}
    </section>
    <p><a href="{{record_url}}/history">History of this record</a></p>
    """#

    /// The inputs of an edit or create form, one per field of the collection; a field the
    /// write rules forbid is disabled and says why.
    static let fields = #"""
    {{#form}}
    <div class="field{{#disabled}} readonly{{/disabled}}{{#conflicted}} in-conflict{{/conflicted}}">
      {{^is_set}}
      <label for="f-{{name}}">{{label}} <span class="type">{{type}}</span></label>
      {{#is_textarea}}<textarea id="f-{{name}}" name="f:{{name}}" rows="4"{{#disabled}} disabled aria-describedby="why-{{name}}"{{/disabled}}>{{value}}</textarea>{{/is_textarea}}
      {{#is_select}}<select id="f-{{name}}" name="f:{{name}}"{{#disabled}} disabled aria-describedby="why-{{name}}"{{/disabled}}>{{#options}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/options}}</select>{{/is_select}}
      {{#is_input}}<input id="f-{{name}}" name="f:{{name}}" type="{{input_type}}" value="{{value}}"{{#disabled}} disabled aria-describedby="why-{{name}}"{{/disabled}}>{{/is_input}}
      <input type="hidden" name="o:{{name}}" value="{{orig}}">
      {{/is_set}}
      {{#is_set}}
      <fieldset{{#disabled}} disabled aria-describedby="why-{{name}}"{{/disabled}}>
        <legend>{{label}} <span class="type">{{type}}</span></legend>
        {{#members}}<label class="member"><input type="checkbox" name="rm:{{name}}" value="{{value}}"> remove <span class="value">{{value}}</span></label>{{/members}}
        <label for="add-{{name}}">Add (separate several with commas)</label>
        <input id="add-{{name}}" name="add:{{name}}" type="text" value="{{added}}">
      </fieldset>
      {{/is_set}}
      {{#disabled}}<p class="why" id="why-{{name}}">{{reason}}</p>{{/disabled}}
    </div>
    {{/form}}
    """#

    /// One conflicted field: every value side by side with who wrote it and when, each with
    /// the one action that keeps it.
    static let siblings = #"""
    <div class="conflict-field" data-key="{{key}}" data-field="{{field}}">
      <h3>{{#show_record}}<a href="{{record_href}}">{{record_title}}</a> · {{/show_record}}{{field}}</h3>
      <ul class="siblings">
        {{#siblings}}
        <li class="sibling">
          <p class="value">{{value}}</p>
          <p class="who">written at <strong>{{node}}</strong><br><time datetime="{{iso}}">{{time}}</time></p>
          <form method="post" action="/resolve">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <input type="hidden" name="key" value="{{key}}">
            <input type="hidden" name="field" value="{{field}}">
            <input type="hidden" name="value" value="{{value}}">
            <input type="hidden" name="return" value="{{return_to}}">
            <button type="submit" class="keep">Keep “{{short}}”</button>
          </form>
        </li>
        {{/siblings}}
      </ul>
    </div>
    """#

    static let history = #"""
    <p class="crumbs"><a href="/c/{{collection}}">{{collection_label}}</a> / <a href="{{record_href}}">{{id}}</a></p>
    <h1>History of {{title}}</h1>
    {{^complete}}<p class="notice">Older edits by {{compacted}} were compacted away (or arrived in a snapshot): they are not listed.</p>{{/complete}}
    {{#has_ops}}
    <div class="scroll">
    <table>
      <caption>{{count}} edits, oldest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Office</th><th scope="col">What</th><th scope="col">Changes</th></tr></thead>
      <tbody>
      {{#ops}}<tr><td><time datetime="{{iso}}">{{time}}</time></td><td>{{node}} <span class="key">#{{counter}}</span></td><td>{{action}}</td><td><ul class="changes">{{#changes}}<li><strong>{{field}}</strong>: {{text}}</li>{{/changes}}</ul></td></tr>{{/ops}}
      </tbody>
    </table>
    </div>
    {{/has_ops}}
    {{^has_ops}}<p>The log holds no edits of this record.</p>{{/has_ops}}
    """#

    static let newRecord = #"""
    <p class="crumbs"><a href="/c/{{collection}}">{{collection_label}}</a> / new</p>
    <h1>New {{singular}}</h1>
    {{#has_error}}<p class="flash flash-error" role="alert" id="form-error">{{error}}</p>{{/has_error}}
    {{^edit_allowed}}<p class="readonly-note" id="edit-reason">{{edit_reason}}</p>{{/edit_allowed}}
    <form method="post" action="/new/{{collection}}" class="edit" id="new-form">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <div class="field">
        <label for="f-id">Id <span class="type">lowercase letters, digits and “-”, e.g. {{example_id}}</span></label>
        <input id="f-id" name="id" type="text" value="{{id}}" required pattern="[a-z0-9][a-z0-9-]{0,63}" autocomplete="off">
      </div>
      {{> fields}}
      <p><button type="submit" id="create"{{^any_writable}} disabled{{/any_writable}}>Create</button></p>
    </form>
    """#

    static let search = #"""
    <h1>Search</h1>
    <form method="get" action="/search" class="inline" role="search">
      <label for="q-main">Words</label>
      <input id="q-main" name="q" type="search" value="{{query}}">
      <label for="q-in">in</label>
      <select id="q-in" name="in">{{#scopes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/scopes}}</select>
      <button type="submit">Search</button>
    </form>
    {{#searched}}
    <p id="result-count">{{count}} found for “{{query}}”.</p>
    <ol class="results">
      {{#results}}<li><a href="{{href}}">{{title}}</a> <span class="key">{{key}}</span>
        <ul class="matches">{{#matches}}<li><span class="field">{{field}}</span>: {{text}}</li>{{/matches}}</ul></li>{{/results}}
    </ol>
    {{/searched}}
    """#

    static let conflicts = #"""
    <h1>Conflicts</h1>
    <p>Offices wrote different values to the same field without seeing each other's edit. Every value is kept until someone picks one: the choice replaces all of them, at every office.</p>
    {{#has_items}}{{#items}}{{> siblings}}{{/items}}{{/has_items}}
    {{^has_items}}<p id="no-conflicts">No open conflicts.</p>{{/has_items}}
    """#

    static let federation = #"""
    <h1>Federation</h1>
    <div class="scroll">
    <table id="nodes">
      <caption>Nodes: the roster and every node that said hello</caption>
      <thead><tr><th scope="col">Node</th><th scope="col">Organisation</th><th scope="col">Role</th><th scope="col">Online</th><th scope="col">Last seen</th><th scope="col">Ops behind</th><th scope="col">Lag</th><th scope="col">Software</th><th scope="col">Protocol</th>{{#is_hub}}<th scope="col">Action</th>{{/is_hub}}</tr></thead>
      <tbody>
      {{#nodes}}
        <tr data-node="{{node_id}}"><th scope="row">{{node_id}}{{#self}} <span class="badge">this node</span>{{/self}}{{#revoked}} <span class="badge conflict">revoked</span>{{/revoked}}{{^in_roster}} <span class="badge">not in roster</span>{{/in_roster}}</th>
        <td>{{organisation}}</td><td>{{node_role}}</td>
        <td class="{{#online}}online{{/online}}{{^online}}offline{{/online}}">{{#online}}online{{/online}}{{^online}}offline{{/online}}</td>
        <td>{{last_seen}}</td><td>{{ops_behind}}</td><td>{{lag}}</td><td>{{software}}</td><td>{{protocol}}</td>
        {{#is_hub}}<td>{{#can_revoke}}<form method="post" action="/federation/revoke" data-confirm="Revoke {{node_id}}? Its later edits will be refused everywhere.">
          <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="node_id" value="{{node_id}}">
          <button type="submit" class="danger">Revoke</button></form>{{/can_revoke}}</td>{{/is_hub}}
        </tr>
      {{/nodes}}
      </tbody>
    </table>
    </div>
    <section aria-labelledby="h-rej">
      <h2 id="h-rej">Ops refused by this node</h2>
      {{#has_rejected}}<table id="rejected"><caption>{{rejected_total}} refused, by reason</caption><thead><tr><th scope="col">Reason</th><th scope="col">Ops</th></tr></thead>
      <tbody>{{#rejected}}<tr><th scope="row">{{reason}}</th><td>{{count}}</td></tr>{{/rejected}}</tbody></table>{{/has_rejected}}
      {{^has_rejected}}<p>None.</p>{{/has_rejected}}
    </section>
    {{#is_hub}}
    <section aria-labelledby="h-admit">
      <h2 id="h-admit">Admit a node</h2>
      <p>Its keys are printed by <code>membersync init</code> on the new office's machine.</p>
      <form method="post" action="/federation/admit" class="edit" id="admit-form">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <div class="field"><label for="a-id">Node id</label><input id="a-id" name="node_id" required></div>
        <div class="field"><label for="a-org">Organisation id</label><input id="a-org" name="organisation" required></div>
        <div class="field"><label for="a-role">Role</label><select id="a-role" name="role"><option value="member">member</option><option value="hub">hub</option></select></div>
        <div class="field"><label for="a-curve">CURVE key (curve.pub)</label><input id="a-curve" name="curve_key" autocomplete="off"></div>
        <div class="field"><label for="a-sign">Signing key (signing.pub)</label><input id="a-sign" name="signing_key" autocomplete="off"></div>
        <div class="field"><label for="a-ep">Endpoints (separate several with commas)</label><input id="a-ep" name="endpoints"></div>
        <p><button type="submit">Admit</button></p>
      </form>
    </section>
    {{/is_hub}}
    {{^is_hub}}<p class="readonly-note">Only the hub operator admits and revokes nodes.</p>{{/is_hub}}
    """#

    static let message = #"""
    <h1>{{heading}}</h1>
    <p id="message">{{text}}</p>
    {{#has_hint}}<p class="hint">{{hint}}</p>{{/has_hint}}
    """#
}
