/** The planner is a pure function: table-driven tests per strategy, ties, all-skipped and single deployments. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingStrategy } from '../../src/config/schema.ts';
import { routingSchema } from '../../src/config/schema.ts';
import type { Provider } from '../../src/providers/types.ts';
import {
  type CommitmentView,
  type PlanInput,
  planAttempts,
  smoothRoundRobin,
} from '../../src/routing/plan.ts';
import type { Deployment, DeploymentView } from '../../src/routing/types.ts';

const NOW = 1_766_000_000_000;
const ROUTING = routingSchema.parse({});

function provider(id: string): Provider {
  const unused = (): never => {
    throw new Error('not used by planner tests');
  };
  return {
    id,
    type: 'openai-compatible',
    region: 'test',
    tags: [],
    cloudName: 'stub',
    chatCall: unused,
    decodeChat: unused,
    chatStreamDecoder: unused,
    classifyError: unused,
  };
}

function dep(name: string, extra: Partial<Deployment> = {}): Deployment {
  return { key: `${name}/m`, provider: provider(name), model: 'm', priority: 1, weight: 1, ...extra };
}

const IDLE: DeploymentView = {
  circuit: 'closed',
  circuitRetryAtMs: undefined,
  throttledUntilMs: 0,
  inFlight: 0,
  ttftEwmaMs: undefined,
  latencyEwmaMs: undefined,
  rpmUsed: 0,
  tpmUsed: 0,
  windowFreesAtMs: NOW,
};

interface Case {
  name: string;
  strategy?: RoutingStrategy;
  deployments: Deployment[];
  views?: Record<string, Partial<DeploymentView>>;
  costs?: Record<string, number>;
  commitments?: Record<string, CommitmentView>;
  stream?: boolean;
  random?: number;
  /** Provider ids in attempt order. */
  order: string[];
  skipped?: Array<[string, string, string]>;
  firstReason?: RegExp;
}

function input(c: Case, rotation = new Map<string, number>()): PlanInput {
  return {
    model: {
      name: 'gpt-5',
      strategy: c.strategy ?? 'priority',
      routing: ROUTING,
      deployments: c.deployments,
    },
    deployments: c.deployments,
    view: (d) => ({ ...IDLE, ...c.views?.[d.provider.id] }),
    request: { stream: c.stream ?? false, estimatedInputTokens: 100, maxOutputTokens: 100 },
    nowMs: NOW,
    random: () => c.random ?? 0.5,
    rotation,
    requestCost: (d) => c.costs?.[d.provider.id],
    commitment: (d) => c.commitments?.[d.provider.id],
  };
}

const CASES: Case[] = [
  {
    name: 'priority: lower first',
    deployments: [dep('b', { priority: 2 }), dep('a', { priority: 1 }), dep('c', { priority: 3 })],
    order: ['a', 'b', 'c'],
    firstReason: /^chosen: priority 1$/,
  },
  {
    name: 'priority: a single deployment',
    deployments: [dep('only')],
    order: ['only'],
  },
  {
    name: 'priority: equal priority and equal weight, the first pick is the first configured',
    deployments: [dep('x'), dep('y'), dep('z', { priority: 2 })],
    order: ['x', 'y', 'z'],
  },
  {
    name: 'skips an open circuit, a throttled deployment, rpm and tpm at their limit, with reasons',
    deployments: [
      dep('open'),
      dep('throttled'),
      dep('rpm', { rpm: 600 }),
      dep('tpm', { tpm: 1000 }),
      dep('ok', { priority: 5, rpm: 600, tpm: 1000 }),
    ],
    views: {
      open: { circuit: 'open', circuitRetryAtMs: NOW + 10_000 },
      throttled: { throttledUntilMs: NOW + 2000 },
      rpm: { rpmUsed: 600 },
      tpm: { tpmUsed: 900 },
      ok: { rpmUsed: 599, tpmUsed: 800 },
    },
    order: ['ok'],
    skipped: [
      ['open', 'circuit_open', 'circuit open'],
      ['throttled', 'throttled', 'throttled by the cloud for another 2000ms'],
      ['rpm', 'capacity', 'rpm 600/600'],
      ['tpm', 'capacity', 'tpm 900+200/1000'],
    ],
  },
  {
    name: 'a half-open circuit is eligible (the attempt loop admits one probe)',
    deployments: [dep('half', { priority: 1 }), dep('b', { priority: 2 })],
    views: { half: { circuit: 'half-open' } },
    order: ['half', 'b'],
  },
  {
    name: 'all skipped: an empty plan, every deployment explained',
    deployments: [dep('a'), dep('b')],
    views: { a: { circuit: 'open' }, b: { throttledUntilMs: NOW + 1 } },
    order: [],
    skipped: [
      ['a', 'circuit_open', 'circuit open'],
      ['b', 'throttled', 'throttled by the cloud for another 1ms'],
    ],
  },
  {
    name: 'a request bigger than the whole tpm still goes to an idle deployment',
    deployments: [dep('small', { tpm: 50 })],
    order: ['small'],
  },
  {
    name: 'least-latency: fastest first (total latency for a non-stream)',
    strategy: 'least-latency',
    deployments: [dep('slow'), dep('fast'), dep('mid')],
    views: { slow: { latencyEwmaMs: 250 }, fast: { latencyEwmaMs: 5 }, mid: { latencyEwmaMs: 40 } },
    order: ['fast', 'mid', 'slow'],
    firstReason: /^chosen: least-latency 5ms vs 40ms$/,
  },
  {
    name: 'least-latency: a stream ranks by time to first token',
    strategy: 'least-latency',
    stream: true,
    deployments: [dep('a'), dep('b')],
    views: { a: { ttftEwmaMs: 300, latencyEwmaMs: 10 }, b: { ttftEwmaMs: 20, latencyEwmaMs: 900 } },
    order: ['b', 'a'],
  },
  {
    name: 'least-latency: an unmeasured deployment goes first (a new or recovered one gets noticed)',
    strategy: 'least-latency',
    deployments: [dep('known'), dep('new')],
    views: { known: { latencyEwmaMs: 5 } },
    order: ['new', 'known'],
  },
  {
    name: 'least-latency: exploration sometimes tries another one first',
    strategy: 'least-latency',
    random: 0.01,
    deployments: [dep('fast'), dep('slow')],
    views: { fast: { latencyEwmaMs: 5 }, slow: { latencyEwmaMs: 250 } },
    order: ['slow', 'fast'],
    firstReason: /exploration/,
  },
  {
    name: 'least-latency: ties by priority',
    strategy: 'least-latency',
    deployments: [dep('b', { priority: 2 }), dep('a', { priority: 1 })],
    views: { a: { latencyEwmaMs: 10 }, b: { latencyEwmaMs: 10 } },
    order: ['a', 'b'],
  },
  {
    name: 'lowest-cost: cheapest first, unpriced last',
    strategy: 'lowest-cost',
    deployments: [dep('pricey'), dep('unpriced'), dep('cheap')],
    costs: { pricey: 0.0094, cheap: 0.0021 },
    order: ['cheap', 'pricey', 'unpriced'],
    firstReason: /^chosen: lowest-cost \$0\.0021 vs \$0\.0094$/,
  },
  {
    name: 'lowest-cost: equal prices by priority',
    strategy: 'lowest-cost',
    deployments: [dep('b', { priority: 2 }), dep('a', { priority: 1 })],
    costs: { a: 0.001, b: 0.001 },
    order: ['a', 'b'],
  },
  {
    name: 'least-busy: fewest in flight relative to capacity (rpm)',
    strategy: 'least-busy',
    deployments: [dep('big', { rpm: 1000 }), dep('small', { rpm: 100 })],
    views: { big: { inFlight: 5 }, small: { inFlight: 1 } },
    order: ['big', 'small'],
  },
  {
    name: 'least-busy: ties by priority',
    strategy: 'least-busy',
    deployments: [dep('b', { priority: 2 }), dep('a', { priority: 1 })],
    order: ['a', 'b'],
  },
  {
    name: 'commitment-first: committed capacity first, then pay-as-you-go by priority',
    strategy: 'commitment-first',
    deployments: [dep('payg', { priority: 1 }), dep('ptu', { priority: 2 }), dep('payg2', { priority: 3 })],
    commitments: {
      ptu: { available: true, detail: '$1200 of $20000 left' },
      payg: { available: false, detail: 'commitment used' },
    },
    order: ['ptu', 'payg', 'payg2'],
    firstReason: /^chosen: commitment, priority 2 \(\$1200 of \$20000 left\)$/,
  },
  {
    name: 'commitment-first: a used-up commitment falls back to priority',
    strategy: 'commitment-first',
    deployments: [dep('a', { priority: 2 }), dep('b', { priority: 1 })],
    commitments: { a: { available: false, detail: 'used' } },
    order: ['b', 'a'],
  },
];

describe('planAttempts: strategies', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const plan = planAttempts(input(c));
      assert.deepEqual(
        plan.attempts.map((a) => a.deployment.provider.id),
        c.order,
      );
      assert.deepEqual(
        plan.skipped.map((s) => [s.deployment.provider.id, s.kind, s.reason]),
        c.skipped ?? [],
      );
      if (c.firstReason) assert.match(plan.attempts[0]?.reason ?? '', c.firstReason);
      for (const [i, a] of plan.attempts.slice(1).entries()) {
        assert.match(a.reason, new RegExp(`^fallback #${i + 1}: `));
      }
    });
  }

  it('a skipped deployment says when it may take requests again', () => {
    const plan = planAttempts(
      input({
        name: '',
        deployments: [dep('open'), dep('rpm', { rpm: 1 })],
        views: {
          open: { circuit: 'open', circuitRetryAtMs: NOW + 7000 },
          rpm: { rpmUsed: 1, windowFreesAtMs: NOW + 3000 },
        },
        order: [],
      }),
    );
    assert.deepEqual(
      plan.skipped.map((s) => s.untilMs),
      [NOW + 7000, NOW + 3000],
    );
  });
});

describe('weights', () => {
  it('weighted 3:1 is smooth: a, a, b, a repeating, never a burst of the heavy one beyond its share', () => {
    const a = dep('a', { weight: 3 });
    const b = dep('b', { weight: 1 });
    let rotation = new Map<string, number>();
    const firsts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const plan = planAttempts({
        ...input({ name: '', strategy: 'weighted', deployments: [a, b], order: [] }),
        rotation,
      });
      rotation = plan.rotation;
      firsts.push(plan.attempts[0]!.deployment.provider.id);
      assert.equal(plan.attempts.length, 2, 'the other is the fallback');
    }
    assert.deepEqual(firsts, ['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });

  it('priority with weights splits traffic within one priority only', () => {
    const deployments = [dep('x', { weight: 1 }), dep('y', { weight: 1 }), dep('backup', { priority: 2 })];
    let rotation = new Map<string, number>();
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const plan = planAttempts({ ...input({ name: '', deployments, order: [] }), rotation });
      rotation = plan.rotation;
      const first = plan.attempts[0]!.deployment.provider.id;
      counts[first] = (counts[first] ?? 0) + 1;
      assert.equal(plan.attempts.at(-1)?.deployment.provider.id, 'backup');
    }
    assert.deepEqual(counts, { x: 50, y: 50 });
  });

  it('smoothRoundRobin with a zero weight never picks it first while others have weight', () => {
    const rotation = new Map<string, number>();
    const group = [dep('zero', { weight: 0 }), dep('one', { weight: 1 })];
    for (let i = 0; i < 5; i++) assert.equal(smoothRoundRobin(group, rotation)[0]?.provider.id, 'one');
  });
});
