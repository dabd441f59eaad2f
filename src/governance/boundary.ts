/**
 * Data boundaries, enforced where routing decides eligibility, so failover, spillover and hedging
 * can never cross one. They fail closed: a deployment whose data may leave the allowed regions
 * (a Bedrock `us.` profile for a boundary of `us-east-1`, a `global` location for any boundary
 * that does not name it) is not eligible.
 */
import type { BoundaryConfig } from '../config/schema.ts';
import type { Principal } from '../identity/keys.ts';
import type { DataResidency } from '../providers/types.ts';
import type { Deployment } from '../routing/types.ts';

/** Where a deployment's data may be processed. */
export function residencyOf(deployment: Deployment): DataResidency {
  const { provider } = deployment;
  const own = provider.residency?.(deployment.model);
  if (own) return own;
  if (provider.region === 'global') return { scope: 'global', geography: 'global', regions: ['*'] };
  return { scope: 'in-region', regions: [provider.region] };
}

/** The boundaries a request is bound by: its key's and its team's. */
export function boundariesOf(principal: Principal): Array<{ owner: string; boundary: BoundaryConfig }> {
  const out: Array<{ owner: string; boundary: BoundaryConfig }> = [];
  if (principal.key.boundary)
    out.push({ owner: `key "${principal.keyName}"`, boundary: principal.key.boundary });
  if (principal.team?.boundary) {
    out.push({ owner: `team "${principal.team.name}"`, boundary: principal.team.boundary });
  }
  return out;
}

/** Why the boundary refuses the deployment, or undefined when it may serve. */
export function boundaryRefusal(boundary: BoundaryConfig, deployment: Deployment): string | undefined {
  const { provider } = deployment;
  if (boundary.providers && !boundary.providers.includes(provider.id)) {
    return `provider ${provider.id} is not in boundary.providers`;
  }
  const missing = (boundary.tags ?? []).filter((t) => !provider.tags.includes(t));
  if (missing.length > 0)
    return `provider ${provider.id} lacks tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
  if (boundary.regions) {
    const residency = residencyOf(deployment);
    if (!residencyWithin(residency, boundary.regions)) {
      const where =
        residency.scope === 'global'
          ? 'any region (global)'
          : residency.scope === 'geography'
            ? `the ${residency.geography} geography (${residency.regions.join(', ')})`
            : residency.regions.join(', ');
      return `${provider.id}/${deployment.model} may process data in ${where}, outside boundary.regions [${boundary.regions.join(', ')}]`;
    }
  }
  return undefined;
}

/**
 * Every region the data may reach must be allowed. A global residency passes only a boundary that
 * says so explicitly (`global` or `*`); a geography passes only globs that cover all of it.
 */
export function residencyWithin(residency: DataResidency, allowed: readonly string[]): boolean {
  // Case-insensitive, as region globs are: `GLOBAL` allows what `global` does.
  if (residency.scope === 'global')
    return allowed.some((glob) => glob === '*' || glob.toLowerCase() === 'global');
  return residency.regions.every((region) => allowed.some((glob) => globCovers(glob, region)));
}

/**
 * Whether every name matching `inner` also matches `outer` (both globs with `*`). Inner's own `*`
 * is tested as the literal character, which only a `*` of outer (`.*`) can match: `us-*` covers
 * `us-east-*`, `us-east-1` does not.
 */
export function globCovers(outer: string, inner: string): boolean {
  return new RegExp(`^${outer.split('*').map(escapeRegExp).join('.*')}$`, 'i').test(inner);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** The boundary as text for the request record: `key "x": regions=europe-*; tags=zdr`. */
export function describeBoundaries(principal: Principal): string | null {
  const parts = boundariesOf(principal).map(({ owner, boundary }) => {
    const fields = [
      boundary.regions ? `regions=${boundary.regions.join(',')}` : undefined,
      boundary.providers ? `providers=${boundary.providers.join(',')}` : undefined,
      boundary.tags ? `tags=${boundary.tags.join(',')}` : undefined,
    ].filter((f): f is string => f !== undefined);
    return `${owner}: ${fields.join('; ')}`;
  });
  return parts.length > 0 ? parts.join(' | ') : null;
}

/**
 * The deployments the principal's boundaries allow, and for the others the first rule refusing
 * each (for the 403 when none is left).
 */
export function partitionByBoundary(
  principal: Principal,
  deployments: readonly Deployment[],
): { allowed: Deployment[]; refused: Array<{ deployment: Deployment; rule: string }> } {
  const boundaries = boundariesOf(principal);
  if (boundaries.length === 0) return { allowed: [...deployments], refused: [] };
  const allowed: Deployment[] = [];
  const refused: Array<{ deployment: Deployment; rule: string }> = [];
  for (const deployment of deployments) {
    let rule: string | undefined;
    for (const { owner, boundary } of boundaries) {
      const why = boundaryRefusal(boundary, deployment);
      if (why) {
        rule = `${owner} boundary: ${why}`;
        break;
      }
    }
    if (rule) refused.push({ deployment, rule });
    else allowed.push(deployment);
  }
  return { allowed, refused };
}
