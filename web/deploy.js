// The deploy dialog: pick locations, see what would block each one, deploy,
// and read each location's result without leaving the dialog.
import {
    Badge, ErrorBox, Modal, OnlineBadge, allLocations, api, html, useState,
    usePoll,
} from './lib.js';

// Why a node cannot take the release, or null. Mirrors the server's schema
// gate (docs/api.md, Deploy); the server's answer is what counts.
export function gateProblem(release, node) {
    if (!node) {
        return 'No hardware: this location has no active node.';
    }
    const min = release.minSchemaVersion;
    if (min === null || min === undefined) {
        return null;
    }
    if (node.schemaVersion === null || node.schemaVersion === undefined) {
        return `Schema unknown: this release needs schema ${min} or newer.`;
    }
    if (node.schemaVersion < min) {
        return `Schema ${node.schemaVersion} is older than the ${min} ` +
            'this release needs.';
    }
    return null;
}

function LocationRow({ loc, release, checked, onToggle }) {
    const node = loc.serverNode;
    const problem = gateProblem(release, node);
    const id = 'dep-loc-' + loc.id;
    return html`<li class=${'loc-row' + (problem ? ' blocked' : '')}
            data-location=${loc.name}>
        <input type="checkbox" id=${id} checked=${checked}
            onChange=${() => onToggle(loc.id)}
            aria-describedby=${id + '-info'} />
        <div class="loc-main">
            <label for=${id} class="loc-name">${loc.name}</label>
            <div class="loc-info" id=${id + '-info'}>
                <${OnlineBadge} node=${node} />
                ${node ? html`<span>Running${' '}
                    <b class="mono">${node.currentVersion || 'unknown'}</b>
                    </span>
                    ${node.targetVersion &&
                      node.targetVersion !== node.currentVersion
                      ? html`<span>Target${' '}<b class="mono">
                            ${node.targetVersion}</b></span>` : ''}
                    <span>Schema ${node.schemaVersion ?? 'unknown'}</span>`
                  : ''}
                ${problem && node ? html`<${Badge} kind="bad"
                    title=${problem}>Schema gate blocks<//>` : ''}
            </div>
            ${problem ? html`<div class="loc-problem">${problem}</div>` : ''}
        </div>
    </li>`;
}

function Results({ answer, byId }) {
    const { results, summary } = answer;
    return html`<section class="results" aria-labelledby="dep-results-title"
            aria-live="polite">
        <h3 id="dep-results-title">${`Results: ${summary.succeeded} ` +
            `deployed, ${summary.failed} failed`}</h3>
        <ul>${results.map((r) => {
            const loc = byId.get(r.locationId);
            return html`<li key=${r.locationId}
                    class=${r.success ? 'ok' : 'bad'}
                    data-location=${loc ? loc.name : r.locationId}
                    data-result=${r.success ? 'success'
                                            : r.error && r.error.code}>
                <span class="res-name">${loc ? loc.name : r.locationId}</span>
                ${r.success
                  ? html`<span class="res-text">Deploy command sent${' '}
                        <span class="muted mono small">${r.commandId}</span>
                        </span>`
                  : html`<span class="res-text"><code>${r.error.code}</code>
                        ${' ' + r.error.message}</span>`}
            </li>`;
        })}</ul>
    </section>`;
}

export function DeployDialog({ release, onClose }) {
    const [locations, setLocations] = useState(null);
    const [loadErr, setLoadErr] = useState(null);
    const [filter, setFilter] = useState('');
    const [selected, setSelected] = useState(new Set());
    const [answer, setAnswer] = useState(null);
    const [err, setErr] = useState(null);
    const [busy, setBusy] = useState(false);

    // Nodes come and go online while the dialog is open.
    usePoll(async (stopped) => {
        try {
            const locs = await allLocations();
            if (!stopped()) {
                setLocations(locs.sort((a, b) => a.name.localeCompare(b.name)));
                setLoadErr(null);
            }
        } catch (e) {
            if (!stopped()) {
                setLoadErr(e);
            }
        }
    }, 5000, []);

    const byId = new Map((locations || []).map((l) => [l.id, l]));
    const needle = filter.trim().toLowerCase();
    const shown = (locations || []).filter(
        (l) => !needle || l.name.toLowerCase().includes(needle));
    const allShown = shown.length > 0 && shown.every((l) => selected.has(l.id));
    const toggle = (id) => {
        const s = new Set(selected);
        if (s.has(id)) {
            s.delete(id);
        } else {
            s.add(id);
        }
        setSelected(s);
    };
    const toggleAll = () => {
        const s = new Set(selected);
        shown.forEach((l) => (allShown ? s.delete(l.id) : s.add(l.id)));
        setSelected(s);
    };

    const deploy = async () => {
        setBusy(true);
        setErr(null);
        try {
            // A retried request (a lost answer) must not deploy twice.
            const key = crypto.randomUUID();
            const { json } = await api(
                'POST',
                `/api/admin/releases/${encodeURIComponent(release.id)}/deploy`,
                { locationIds: [...selected] },
                { allow: [422], headers: { 'Idempotency-Key': key } });
            setAnswer(json);
        } catch (e) {
            setErr(e);
        }
        setBusy(false);
    };

    return html`<${Modal} title=${'Deploy ' + release.version} wide
            onClose=${onClose} labelId="deploy-title">
        <div class="deploy-release">
            <div><span class="mono big">${release.version}</span>
                <${Badge} kind=${release.channel === 'BETA' ? 'warn' : 'info'}>
                    ${release.channel === 'BETA' ? 'Beta' : 'Stable'}<//>
                ${release.minSchemaVersion !== null &&
                  release.minSchemaVersion !== undefined
                  ? html`<span class="muted">${
                        `needs schema ${release.minSchemaVersion} or newer`}
                        </span>` : ''}</div>
            ${release.releaseNotes ? html`<div class="notes small"
                aria-label="Release notes">${release.releaseNotes}</div>`
              : html`<p class="muted small">No release notes.</p>`}
        </div>
        <div class="toolbar">
            <label for="dep-filter">Filter by name</label>
            <input id="dep-filter" type="search" value=${filter}
                autocomplete="off"
                onInput=${(e) => setFilter(e.target.value)} />
            <label class="check"><input type="checkbox" id="dep-all"
                checked=${allShown} onChange=${toggleAll}
                disabled=${shown.length === 0} />
                Select all${needle ? ' shown' : ''}</label>
            <span class="muted" aria-live="polite">${
                `${selected.size} selected`}</span>
        </div>
        <${ErrorBox} error=${loadErr} />
        ${locations === null ? html`<p class="muted">Loading locations…</p>`
          : shown.length === 0 ? html`<p class="empty">${locations.length
              ? 'No location matches the filter.'
              : 'This organization has no locations yet.'}</p>`
          : html`<ul class="loc-list" aria-label="Locations">
              ${shown.map((l) => html`<${LocationRow} key=${l.id} loc=${l}
                  release=${release} checked=${selected.has(l.id)}
                  onToggle=${toggle} />`)}</ul>`}
        <${ErrorBox} error=${err} />
        ${answer ? html`<${Results} answer=${answer} byId=${byId} />` : ''}
        <div class="actions">
            <button type="button" onClick=${onClose}>Close</button>
            <button type="button" class="primary"
                disabled=${busy || selected.size === 0} onClick=${deploy}>
                ${busy ? 'Deploying…' : `Deploy to ${selected.size} ` +
                  (selected.size === 1 ? 'location' : 'locations')}</button>
        </div>
    <//>`;
}
