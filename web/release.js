// One release: its fields and notes, and its deploy history, refreshed
// every 2 seconds while commands move through their states.
import {
    ErrorBox, Link, StatusBadge, Time, get, html, isAdmin,
    navigate, useState, usePoll,
} from './lib.js';
import { ArchiveDialog, ReleaseBadges } from './releases.js';
import { DeployDialog } from './deploy.js';

const POLL_MS = 2000;

// The latest moment a command moved.
function lastChange(c) {
    return c.finishedAt || c.startedAt || c.acknowledgedAt ||
        c.deliveredAt || c.createdAt;
}

function who(c, session) {
    if (c.createdByName) {
        return c.createdByName;
    }
    if (c.createdById && c.createdById === session.user.id) {
        return session.user.name || session.user.email;
    }
    return c.createdById || '—';
}

function History({ deployments, session }) {
    if (deployments.length === 0) {
        return html`<p class="empty">Not deployed anywhere yet.</p>`;
    }
    return html`<div class="table-wrap"><table class="history">
        <thead><tr><th>Location</th><th>Node</th><th>Status</th>
            <th>Deployed</th><th>Last change</th><th>Message</th>
            <th class="hide-narrow">By</th></tr></thead>
        <tbody>${deployments.map((c) => {
            return html`<tr key=${c.id} data-command=${c.id}
                    data-location=${c.locationName}>
                <td>${c.locationName}</td>
                <td>${c.serverNodeName}</td>
                <td class="status"><${StatusBadge} status=${c.status} /></td>
                <td><${Time} iso=${c.createdAt} /></td>
                <td><${Time} iso=${lastChange(c)} /></td>
                <td class="message">${c.message || ''}</td>
                <td class="hide-narrow">${who(c, session)}</td>
            </tr>`;
        })}</tbody></table></div>`;
}

export function ReleaseView({ id, session }) {
    const [data, setData] = useState(null);
    const [err, setErr] = useState(null);
    const [dialog, setDialog] = useState(null);
    const [reload, setReload] = useState(0);
    const admin = isAdmin(session.user);

    usePoll(async (stopped) => {
        try {
            const json = await get('/api/admin/releases/' +
                                   encodeURIComponent(id));
            if (!stopped()) {
                setData(json);
                setErr(null);
            }
        } catch (e) {
            if (!stopped()) {
                setErr(e);
            }
        }
    }, POLL_MS, [id, reload]);

    if (!data) {
        return html`<main class="page">
            <p><${Link} href="/dashboard/releases">← Releases<//></p>
            ${err ? html`<${ErrorBox} error=${err} />`
                  : html`<p class="muted">Loading…</p>`}</main>`;
    }
    const r = data.release;
    const done = () => {
        setDialog(null);
        setReload(reload + 1);
    };
    return html`<main class="page">
        <p><${Link} href="/dashboard/releases">← Releases<//></p>
        <div class="page-head">
            <h1><span class="mono">${r.version}</span></h1>
            <${ReleaseBadges} release=${r} />
            ${admin && !r.isArchived ? html`<div class="head-actions">
                <button type="button" class="primary"
                    onClick=${() => setDialog('deploy')}>Deploy</button>
                <button type="button" class="danger-quiet"
                    onClick=${() => setDialog('archive')}>Archive</button>
            </div>` : ''}
        </div>
        <${ErrorBox} error=${err} />
        <section class="card" aria-labelledby="fields-title">
            <h2 id="fields-title" class="sr-only">Details</h2>
            <dl class="fields">
                <dt>Channel</dt><dd>${r.channel === 'BETA' ? 'Beta'
                                                           : 'Stable'}</dd>
                <dt>Image</dt><dd class="mono">${r.imageTag}</dd>
                ${r.imageDigest ? html`<dt>Digest</dt>
                    <dd class="mono small">${r.imageDigest}</dd>` : ''}
                <dt>Minimum schema</dt><dd>${r.minSchemaVersion ?? 'none'}</dd>
                <dt>Rollback version</dt>
                <dd class="mono">${r.rollbackVersion || 'none'}</dd>
                <dt>Created</dt><dd><${Time} iso=${r.createdAt} />
                    ${r.createdBy ? ' by ' + (r.createdBy.name ||
                                               r.createdBy.email) : ''}</dd>
                ${r.archivedAt ? html`<dt>Archived</dt>
                    <dd><${Time} iso=${r.archivedAt} /></dd>` : ''}
            </dl>
            <h3>Release notes</h3>
            ${r.releaseNotes ? html`<div class="notes">${r.releaseNotes}</div>`
                             : html`<p class="muted">No release notes.</p>`}
        </section>
        <section aria-labelledby="history-title">
            <h2 id="history-title">Deploy history</h2>
            <p class="muted small">Updates every ${POLL_MS / 1000} seconds;
                the last 50 deploy commands, newest first.</p>
            <${History} deployments=${data.deployments}
                session=${session} />
        </section>
        ${dialog === 'deploy' ? html`<${DeployDialog} release=${r}
            onClose=${done} />` : ''}
        ${dialog === 'archive' ? html`<${ArchiveDialog} release=${r}
            onClose=${() => setDialog(null)}
            onArchived=${() => navigate('/dashboard/releases')} />` : ''}
    </main>`;
}
