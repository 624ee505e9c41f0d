// The fleet: every location with its node, and how many nodes run each
// version.
import {
    Badge, ErrorBox, OnlineBadge, Time, allLocations, fmtAgo, html,
    semverCompare, useState, usePoll,
} from './lib.js';

function versionCounts(locations) {
    const counts = new Map();
    for (const l of locations) {
        if (l.serverNode) {
            const v = l.serverNode.currentVersion || 'unknown';
            counts.set(v, (counts.get(v) || 0) + 1);
        }
    }
    return [...counts.entries()].sort((a, b) => {
        if (a[0] === 'unknown' || b[0] === 'unknown') {
            return a[0] === 'unknown' ? 1 : -1;
        }
        return semverCompare(b[0], a[0]);
    });
}

export function FleetView() {
    const [locations, setLocations] = useState(null);
    const [err, setErr] = useState(null);
    const [filter, setFilter] = useState('');

    usePoll(async (stopped) => {
        try {
            const locs = await allLocations();
            if (!stopped()) {
                setLocations(locs.sort((a, b) => a.name.localeCompare(b.name)));
                setErr(null);
            }
        } catch (e) {
            if (!stopped()) {
                setErr(e);
            }
        }
    }, 5000, []);

    const head = html`<div class="page-head"><h1>Fleet</h1></div>
        <${ErrorBox} error=${err} />`;
    if (locations === null) {
        return html`<main class="page">${head}
            ${err ? '' : html`<p class="muted">Loading…</p>`}</main>`;
    }
    const nodes = locations.filter((l) => l.serverNode);
    const online = nodes.filter((l) => l.serverNode.online).length;
    const needle = filter.trim().toLowerCase();
    const shown = locations.filter(
        (l) => !needle || l.name.toLowerCase().includes(needle));
    const now = Date.now();
    return html`<main class="page">${head}
        <div class="summary">
            <section class="card stat" aria-label="Nodes">
                <div class="stat-num">${nodes.length}</div>
                <div>nodes in ${locations.length} locations</div>
                <div class="muted small">${`${online} online, ` +
                    `${nodes.length - online} offline, ` +
                    `${locations.length - nodes.length} without hardware`}
                    </div>
            </section>
            <section class="card versions" aria-labelledby="versions-title">
                <h2 id="versions-title">Nodes per running version</h2>
                ${nodes.length === 0 ? html`<p class="muted">No nodes yet.</p>`
                  : html`<ul class="version-counts">${versionCounts(locations)
                      .map(([v, n]) => html`<li key=${v} data-version=${v}>
                        <span class="mono">${v}</span>
                        <span class="count">${n}</span></li>`)}</ul>`}
            </section>
        </div>
        <div class="toolbar">
            <label for="fleet-filter">Filter by name</label>
            <input id="fleet-filter" type="search" value=${filter}
                autocomplete="off"
                onInput=${(e) => setFilter(e.target.value)} />
        </div>
        ${locations.length === 0 ? html`<p class="empty">No locations
            yet.</p>` : html`<div class="table-wrap"><table class="fleet">
            <thead><tr><th>Location</th><th>Node</th><th>State</th>
                <th>Running</th><th>Target</th>
                <th class="hide-narrow">Schema</th><th>Last seen</th>
            </tr></thead>
            <tbody>${shown.map((l) => {
                const n = l.serverNode;
                return html`<tr key=${l.id} data-location=${l.name}>
                <td>${l.name}<div class="muted small">${l.timezone}</div></td>
                <td>${n ? n.name : '—'}</td>
                <td><${OnlineBadge} node=${n} /></td>
                <td class="mono">${n ? n.currentVersion || 'unknown'
                                     : '—'}</td>
                <td class="mono">${n && n.targetVersion ? html`
                    ${n.targetVersion}
                    ${n.targetVersion !== n.currentVersion
                      ? html` <${Badge} kind="info">updating<//>` : ''}`
                  : '—'}</td>
                <td class="hide-narrow">${n ? n.schemaVersion ?? 'unknown'
                                            : '—'}</td>
                <td>${n ? html`<span title=${n.lastSeenAt || ''}>
                    ${n.online ? 'now' : fmtAgo(n.lastSeenAt, now)}</span>`
                  : '—'}</td>
            </tr>`;
            })}</tbody></table></div>`}
    </main>`;
}
