// The audit log, newest first, a page at a time.
import { ErrorBox, Time, get, html, useEffect, useState } from './lib.js';

const PAGE = 100;

function details(d) {
    if (d === null || d === undefined) {
        return '';
    }
    if (typeof d !== 'object') {
        return String(d);
    }
    return Object.entries(d).map(([k, v]) => `${k}: ${
        typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
        .join(', ');
}

export function AuditView() {
    const [entries, setEntries] = useState(null);
    const [more, setMore] = useState(false);
    const [err, setErr] = useState(null);
    const [busy, setBusy] = useState(false);

    const load = async (before) => {
        setBusy(true);
        try {
            const json = await get(`/api/admin/audit?limit=${PAGE}` +
                                   (before ? '&before=' + before : ''));
            setEntries((old) => (before ? [...old, ...json.entries]
                                        : json.entries));
            setMore(json.entries.length === PAGE);
            setErr(null);
        } catch (e) {
            setErr(e);
        }
        setBusy(false);
    };
    useEffect(() => {
        load(null);
    }, []);

    return html`<main class="page">
        <div class="page-head"><h1>Audit log</h1>
            <button type="button" onClick=${() => load(null)}
                disabled=${busy}>Refresh</button></div>
        <${ErrorBox} error=${err} />
        ${entries === null ? (err ? '' : html`<p class="muted">Loading…</p>`)
          : entries.length === 0 ? html`<p class="empty">Nothing yet.</p>`
          : html`<div class="table-wrap"><table class="audit">
            <thead><tr><th>Time</th><th>Who</th><th>Action</th>
                <th>Target</th><th>Details</th></tr></thead>
            <tbody>${entries.map((e) => html`<tr key=${e.id}
                    data-action=${e.action}>
                <td><${Time} iso=${e.createdAt} /></td>
                <td>${e.actor ? e.actor.name || e.actor.email
                              : html`<span class="muted">system</span>`}</td>
                <td><code>${e.action}</code></td>
                <td>${e.targetType}<div class="muted mono small">
                    ${e.targetId}</div></td>
                <td class="details small">${details(e.details)}</td>
            </tr>`)}</tbody></table></div>`}
        ${more ? html`<p><button type="button" disabled=${busy}
            onClick=${() => load(entries[entries.length - 1].id)}>
            Load older entries</button></p>` : ''}
    </main>`;
}
