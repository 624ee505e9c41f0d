// The releases: the list, creating one, archiving one.
import {
    Badge, ErrorBox, Field, Link, Modal, Time, api, get, html, isAdmin,
    useState, usePoll,
} from './lib.js';
import { DeployDialog } from './deploy.js';

export function ReleaseBadges({ release }) {
    return html`<span class="badges">
        ${release.isLatest ? html`<${Badge} kind="ok">Latest<//>` : ''}
        ${release.channel === 'BETA' ? html`<${Badge} kind="warn">Beta<//>`
                                      : ''}
        ${release.isArchived ? html`<${Badge} kind="muted">Archived<//>` : ''}
        <${Badge} kind="neutral"
            title="Deploy commands created for this release">
            ${release.deployCount}
            ${release.deployCount === 1 ? ' deploy' : ' deploys'}<//>
    </span>`;
}

const FIELDS = ['version', 'channel', 'imageTag', 'releaseNotes',
                'minSchemaVersion', 'rollbackVersion'];

// The form's values as the API wants them: empty optional fields left out.
function releaseBody(v) {
    const body = {
        version: v.version.trim(), channel: v.channel,
        imageTag: v.imageTag.trim(),
    };
    if (v.releaseNotes !== '') {
        body.releaseNotes = v.releaseNotes;
    }
    if (v.minSchemaVersion.trim() !== '') {
        const n = Number(v.minSchemaVersion);
        body.minSchemaVersion = Number.isInteger(n) ? n
                                                    : v.minSchemaVersion;
    }
    if (v.rollbackVersion.trim() !== '') {
        body.rollbackVersion = v.rollbackVersion.trim();
    }
    return body;
}

// The API's error for one field of the form, or null for the whole form.
function errorField(err) {
    if (err.field && FIELDS.includes(err.field)) {
        return err.field;
    }
    return err.code === 'VERSION_EXISTS' ? 'version' : null;
}

export function CreateReleaseDialog({ onClose, onCreated }) {
    const [v, setV] = useState({
        version: '', channel: 'STABLE', imageTag: '', releaseNotes: '',
        minSchemaVersion: '', rollbackVersion: '',
    });
    const [fieldErr, setFieldErr] = useState({});
    const [formErr, setFormErr] = useState(null);
    const [busy, setBusy] = useState(false);
    const set = (k) => (e) => setV({ ...v, [k]: e.target.value });
    const aria = (k) => ({
        'aria-invalid': fieldErr[k] ? 'true' : null,
        'aria-describedby': fieldErr[k] ? `rel-${k}-error` : null,
    });

    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setFieldErr({});
        setFormErr(null);
        try {
            const { json } = await api('POST', '/api/admin/releases',
                                       releaseBody(v));
            onCreated(json.release);
        } catch (err) {
            const f = errorField(err);
            if (f) {
                setFieldErr({ [f]: err.message });
                const el = document.getElementById('rel-' + f);
                if (el) {
                    el.focus();
                }
            } else {
                setFormErr(err);
            }
            setBusy(false);
        }
    };

    return html`<${Modal} title="Create release" onClose=${onClose}
            labelId="create-title">
        <form onSubmit=${submit} noValidate class="form-grid">
            <${Field} id="rel-version" label="Version" error=${fieldErr.version}
                hint="SemVer, for example 1.4.0 or 1.5.0-rc.1">
                <input id="rel-version" value=${v.version} autofocus
                    autocomplete="off" onInput=${set('version')}
                    ...${aria('version')} /><//>
            <${Field} id="rel-channel" label="Channel"
                error=${fieldErr.channel}>
                <select id="rel-channel" value=${v.channel}
                    onChange=${set('channel')} ...${aria('channel')}>
                    <option value="STABLE">Stable</option>
                    <option value="BETA">Beta</option>
                </select><//>
            <${Field} id="rel-imageTag" label="Image tag"
                error=${fieldErr.imageTag}
                hint="A tag (1.4.0) or a full image reference">
                <input id="rel-imageTag" value=${v.imageTag}
                    autocomplete="off" onInput=${set('imageTag')}
                    ...${aria('imageTag')} /><//>
            <${Field} id="rel-minSchemaVersion" label="Minimum schema version"
                error=${fieldErr.minSchemaVersion}
                hint="Optional. Nodes with an older schema are not updated.">
                <input id="rel-minSchemaVersion" inputmode="numeric"
                    value=${v.minSchemaVersion} autocomplete="off"
                    onInput=${set('minSchemaVersion')}
                    ...${aria('minSchemaVersion')} /><//>
            <${Field} id="rel-rollbackVersion" label="Rollback version"
                error=${fieldErr.rollbackVersion}
                hint="Optional. The version to go back to on failure.">
                <input id="rel-rollbackVersion" value=${v.rollbackVersion}
                    autocomplete="off" onInput=${set('rollbackVersion')}
                    ...${aria('rollbackVersion')} /><//>
            <div class="span-2">
            <${Field} id="rel-releaseNotes" label="Release notes"
                error=${fieldErr.releaseNotes}>
                <textarea id="rel-releaseNotes" rows="5"
                    value=${v.releaseNotes} onInput=${set('releaseNotes')}
                    ...${aria('releaseNotes')}></textarea><//>
            </div>
            <div class="span-2"><${ErrorBox} error=${formErr} /></div>
            <div class="actions span-2">
                <button type="button" onClick=${onClose}>Cancel</button>
                <button type="submit" class="primary" disabled=${busy}>
                    ${busy ? 'Creating…' : 'Create release'}</button>
            </div>
        </form>
    <//>`;
}

export function ArchiveDialog({ release, onClose, onArchived }) {
    const [err, setErr] = useState(null);
    const [busy, setBusy] = useState(false);
    const archive = async () => {
        setBusy(true);
        try {
            const { json } = await api(
                'DELETE',
                '/api/admin/releases/' + encodeURIComponent(release.id));
            onArchived(json.release);
        } catch (e) {
            setErr(e);
            setBusy(false);
        }
    };
    return html`<${Modal} title=${'Archive ' + release.version + '?'}
            onClose=${onClose} labelId="archive-title">
        <p>An archived release can no longer be deployed and leaves the
            list. Nodes that run it keep running it, and its history stays
            readable.</p>
        <${ErrorBox} error=${err} />
        <div class="actions">
            <button type="button" onClick=${onClose} autofocus>Cancel</button>
            <button type="button" class="danger" disabled=${busy}
                onClick=${archive}>
                ${busy ? 'Archiving…' : 'Archive release'}</button>
        </div>
    <//>`;
}

export function ReleasesView({ session }) {
    const [releases, setReleases] = useState(null);
    const [err, setErr] = useState(null);
    const [channel, setChannel] = useState('');
    const [archived, setArchived] = useState(false);
    const [dialog, setDialog] = useState(null);
    const [reload, setReload] = useState(0);
    const admin = isAdmin(session.user);

    usePoll(async (stopped) => {
        const q = new URLSearchParams();
        if (channel) {
            q.set('channel', channel);
        }
        if (archived) {
            q.set('includeArchived', 'true');
        }
        try {
            const json = await get('/api/admin/releases?' + q);
            if (!stopped()) {
                setReleases(json.releases);
                setErr(null);
            }
        } catch (e) {
            if (!stopped()) {
                setErr(e);
            }
        }
    }, 10000, [channel, archived, reload]);

    const close = () => setDialog(null);
    const changed = () => {
        setDialog(null);
        setReload(reload + 1);
    };

    return html`<main class="page">
        <div class="page-head">
            <h1>Releases</h1>
            ${admin ? html`<button type="button" class="primary"
                onClick=${() => setDialog({ kind: 'create' })}>
                Create release</button>` : ''}
        </div>
        <div class="toolbar">
            <label>Channel
                <select value=${channel}
                    onChange=${(e) => setChannel(e.target.value)}>
                    <option value="">All</option>
                    <option value="STABLE">Stable</option>
                    <option value="BETA">Beta</option>
                </select></label>
            <label class="check"><input type="checkbox" checked=${archived}
                onChange=${(e) => setArchived(e.target.checked)} />
                Show archived</label>
        </div>
        <${ErrorBox} error=${err} />
        ${releases === null ? html`<p class="muted">Loading…</p>`
          : releases.length === 0 ? html`<p class="empty">No releases yet.${
              admin ? ' Create the first one.' : ''}</p>`
          : html`<div class="table-wrap"><table class="releases">
            <thead><tr><th>Version</th><th>Channel</th><th>Status</th>
                <th class="hide-narrow">Image</th>
                <th class="hide-narrow">Min. schema</th><th>Created</th>
                ${admin ? html`<th><span class="sr-only">Actions</span></th>`
                        : ''}</tr></thead>
            <tbody>${releases.map((r) => html`<tr key=${r.id}
                    data-version=${r.version}>
                <td><${Link} class="version"
                    href=${'/dashboard/releases/' + r.id}>${r.version}<//></td>
                <td>${r.channel === 'BETA' ? 'Beta' : 'Stable'}</td>
                <td><${ReleaseBadges} release=${r} /></td>
                <td class="hide-narrow mono">${r.imageTag}</td>
                <td class="hide-narrow">${r.minSchemaVersion ?? '—'}</td>
                <td><${Time} iso=${r.createdAt} />
                    <div class="muted small">${r.createdBy
                        ? r.createdBy.name || r.createdBy.email : ''}</div></td>
                ${admin ? html`<td class="row-actions">${r.isArchived ? ''
                  : html`<button type="button"
                        onClick=${() => setDialog({ kind: 'deploy', r })}
                        aria-label=${'Deploy ' + r.version}>Deploy</button>
                    <button type="button" class="danger-quiet"
                        onClick=${() => setDialog({ kind: 'archive', r })}
                        aria-label=${'Archive ' + r.version}>Archive</button>`}
                    </td>` : ''}
            </tr>`)}</tbody></table></div>`}
        ${dialog && dialog.kind === 'create' ? html`<${CreateReleaseDialog}
            onClose=${close} onCreated=${changed} />` : ''}
        ${dialog && dialog.kind === 'archive' ? html`<${ArchiveDialog}
            release=${dialog.r} onClose=${close} onArchived=${changed} />`
          : ''}
        ${dialog && dialog.kind === 'deploy' ? html`<${DeployDialog}
            release=${dialog.r} onClose=${changed} />` : ''}
    </main>`;
}
