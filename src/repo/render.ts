/** Human-readable text for `status` (the --json output is the StatusInfo itself). */
import { formatBytes } from '../config/size.js';
import { isProviderName, providerEntry } from '../providers/index.js';
import type { StatusInfo } from './status.js';

const age = (ms: number) => {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} days`;
};

export function renderStatus(s: StatusInfo): string {
  const lines: string[] = [];
  const w = s.wiring;
  const needsNoKeychain = !!w.provider && isProviderName(w.provider) && !providerEntry(w.provider).needsKeychain;
  lines.push(s.repo ? `Repository  ${s.repo.top}` : 'Repository  (not in a git work tree)');
  if (s.repo) {
    lines.push(`Provider    ${w.provider ?? '-'}${w.root ? `  root ${w.root}` : ''}`);
    lines.push(`Agent       ${w.effective ? 'git-lfs will use lfs-bridge for push and pull' : 'NOT in use'}`);
    if (w.agentCommand) lines.push(`            ${w.agentCommand}`);
    if (w.gitLfsVersion)
      lines.push(`git-lfs     ${w.gitLfsVersion}  upload: ${w.uploadTransfers}  download: ${w.downloadTransfers}`);
  }
  for (const p of w.problems) lines.push(`  ! ${p}`);
  if (s.store.checked) {
    lines.push(`Store       ${s.store.ok ? 'reachable and writable' : 'NOT usable'}`);
    if (s.store.problem) lines.push(`  ! ${s.store.problem}`);
  }
  lines.push(
    `Install     ${s.install.ok ? 'done: a plain git clone of a shared lfs-bridge repository works' : 'not run on this machine (lfs-bridge install lets a plain git clone work)'}`,
  );
  lines.push(
    `Keychain    ${s.keychain.available ? (s.keychain.kind === 'file' ? 'insecure file store (opted in)' : 'available') : 'not available'}` +
      (!s.keychain.available && needsNoKeychain ? ` (the ${w.provider} provider does not need it)` : ''),
  );
  if (!s.keychain.available && s.keychain.detail && !needsNoKeychain) lines.push(`  ! ${s.keychain.detail}`);
  for (const e of s.endpoints) {
    lines.push(
      e.url
        ? `Endpoint    ${e.variable}=${e.url}: ${e.provider} requests and logins go there, not to ${e.provider}`
        : `Endpoint    ${e.variable} refused`,
    );
    if (e.error) lines.push(`  ! ${e.error}`);
  }
  lines.push(`Accounts    ${s.accounts.length ? '' : 'none'}`.trimEnd());
  for (const a of s.accounts) {
    const who = [a.displayName, a.email && a.email !== a.account ? `<${a.email}>` : ''].filter(Boolean).join(' ');
    const space =
      a.used !== undefined
        ? `  ${formatBytes(a.used)} used${a.allocated ? ` of ${formatBytes(a.allocated)}` : ''}`
        : '';
    const under = a.endpoint ? `  (logged in under ${a.endpoint})` : '';
    lines.push(
      `  ${a.provider}:${a.account}${who ? `  ${who}` : ''}${under}${space}${a.problem ? `  ! ${a.problem}` : ''}`,
    );
  }
  const pending = s.resumes.length + s.partials.length;
  lines.push(`Pending     ${pending ? `${pending} resumable transfer(s)` : 'no interrupted transfers'}`);
  for (const r of s.resumes) {
    lines.push(
      `  upload   ${r.oid.slice(0, 12)}…  ${formatBytes(r.offset)} / ${formatBytes(r.size)}  ${r.provider}:${r.account}  ${age(r.ageMs)} old${r.stale ? '  STALE' : ''}`,
    );
  }
  for (const p of s.partials) {
    const total = p.total !== undefined ? ` / ${formatBytes(p.total)}` : '';
    lines.push(
      `  ${p.kind.padEnd(8)} ${p.oid.slice(0, 12)}…  ${formatBytes(p.bytesDone)}${total}  ${age(p.ageMs)} old${p.stale ? '  STALE' : ''}`,
    );
  }
  return lines.join('\n');
}
