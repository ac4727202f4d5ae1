"""PPO actor-critic training and greedy/sampled evaluation of an agent over a batched environment.

Any environment with BatchedBoxWorld's interface works: `reset() -> obs uint8 [B, H, W, C]` and
`step(actions LongTensor[B]) -> (obs, reward float[B], terminated bool[B], truncated bool[B], info)` with
auto-reset (the observation returned for a finished env is the first of its next episode) and
`info["solved"]` (bool[B], optional: missing means never solved). Everything stays on the device as batched
tensor ops; actions and minibatch orders come from one torch.Generator seeded by `PPOConfig.seed`, so a run
is reproducible given the agent's initial weights and the environment's own seed.

Terminated versus truncated: a terminated step has no future (bootstrap value 0). A truncated step (time
limit) does have one: if the environment reports the observation it was truncated in as
`info["final_obs"]` (uint8 [B, H, W, C], read only on truncated rows), its value is the bootstrap target.
Otherwise -- BatchedBoxWorld auto-resets without keeping that observation -- truncation is treated like a
termination (bootstrap 0). For Box-World that is also the consistent choice, because the step count is not
part of the observation, so the agent cannot know a time limit is coming. Either way the GAE recursion is
cut at every episode end, since the next stored observation belongs to a new episode.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import torch
from torch.distributions import Categorical
from torch.nn import functional as F

from engine.core.errors import LanternError
from engine.rl.agents.common import Agent
from engine.rl.ppo_config import PPOConfig

# A list of one dict per update: update, env_steps and episodes (both cumulative), window_episodes and
# mean_return, fraction_solved, mean_length over the episodes that finished in that update's rollout (NaN
# when none did), the loss terms, explained_variance, steps_per_second (env steps
# per wall-clock second of the whole update, rollout and learning), eval_* when evaluated.
TrainHistory = list[dict[str, float]]


class BatchedEnv(Protocol):
    def reset(self) -> torch.Tensor: ...

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]: ...


def make_optimiser(agent: Agent, cfg: PPOConfig) -> torch.optim.Optimizer:
    """The Adam optimiser train_ppo uses for `agent` (eps 1e-5, as is usual for PPO)."""
    return torch.optim.Adam(agent.parameters(), lr=cfg.lr, eps=1e-5)


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_value: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    *,
    gamma: float,
    lam: float,
    truncation_values: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and value targets for a [T, B] rollout.

    values[t] = V(obs_t); last_value [B] = V(obs_T) (the observation after the last step). The bootstrap
    value after step t is V(obs_{t+1}) if the episode went on, 0 if it terminated, and
    truncation_values[t] (V of the observation it was truncated in) if it was truncated -- or 0 when
    truncation_values is None. The recursion A_t = delta_t + gamma * lam * A_{t+1} stops at every end.
    Returns (advantages [T, B], returns = advantages + values).
    """
    steps = rewards.shape[0]
    done = terminated | truncated
    next_values = torch.cat([values[1:], last_value[None]], dim=0)
    bootstrap = torch.where(done, torch.zeros_like(next_values), next_values)
    if truncation_values is not None:
        bootstrap = torch.where(truncated & ~terminated, truncation_values, bootstrap)
    deltas = rewards + gamma * bootstrap - values
    carry = (~done).to(values.dtype) * (gamma * lam)
    advantages = torch.empty_like(values)
    running = torch.zeros_like(last_value)
    for t in range(steps - 1, -1, -1):  # T is small (tens); each step is a [B] tensor op
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages, advantages + values


class _EpisodeTracker:
    """Running return and length of every env's current episode; collects those that end."""

    def __init__(self, n: int, device: torch.device) -> None:
        self.returns = torch.zeros(n, device=device)
        self.lengths = torch.zeros(n, dtype=torch.long, device=device)
        self.finished: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def add(self, reward: torch.Tensor, done: torch.Tensor, solved: torch.Tensor) -> None:
        self.returns += reward
        self.lengths += 1
        if bool(done.any()):
            self.finished.append(
                (self.returns[done].clone(), self.lengths[done].clone(), solved[done].clone())
            )
            self.returns = torch.where(done, 0.0, self.returns)
            self.lengths = torch.where(done, 0, self.lengths)

    def drain(self) -> dict[str, float]:
        if not self.finished:
            nan = math.nan
            return {"episodes": 0.0, "mean_return": nan, "fraction_solved": nan, "mean_length": nan}
        returns, lengths, solved = (torch.cat(parts) for parts in zip(*self.finished, strict=True))
        self.finished = []
        return {
            "episodes": float(returns.numel()),
            "mean_return": float(returns.mean()),
            "fraction_solved": float(solved.float().mean()),
            "mean_length": float(lengths.float().mean()),
        }


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast for "bf16", nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _solved(info: dict[str, Any], like: torch.Tensor) -> torch.Tensor:
    solved = info.get("solved")
    return torch.zeros_like(like) if solved is None else solved.to(like.device).bool()


def train_ppo(
    agent: Agent,
    env: BatchedEnv,
    cfg: PPOConfig,
    *,
    device: str | torch.device,
    progress: Callable[[float, float, str], None] | None = None,
    metrics: Callable[[float, dict[str, float]], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
    eval_fn: Callable[[Agent], dict[str, float]] | None = None,
    eval_every: int | None = None,
    optimiser: torch.optim.Optimizer | None = None,
) -> TrainHistory:
    """Train `agent` in place with PPO on `env` (batch = cfg.n_envs) for at least cfg.total_steps env steps.

    After every update: progress(env_steps, total_steps, message), metrics(env_steps, finite values of the
    history entry), check_cancelled() (may raise JobCancelled). eval_fn(agent) runs after every
    `eval_every` updates and after the last; its values join that update's entry prefixed with "eval_".
    Pass `optimiser` (from make_optimiser, perhaps with a loaded state) to keep it for checkpoints.
    """
    device = torch.device(device)
    if eval_every is not None and eval_every < 1:
        raise LanternError(
            f"eval_every must be at least 1, got {eval_every}",
            "train_ppo",
            "evaluate every N >= 1 updates, or pass None for only at the end",
        )
    agent.to(device)
    autocast = partial(_autocast, device, cfg.precision)
    if optimiser is None:
        optimiser = make_optimiser(agent, cfg)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    steps_per_update = cfg.n_envs * cfg.rollout_steps
    updates = math.ceil(cfg.total_steps / steps_per_update)
    T, B = cfg.rollout_steps, cfg.n_envs

    obs = env.reset().to(device)
    if obs.shape[0] != B:
        raise LanternError(
            f"the environment has a batch of {obs.shape[0]} but PPOConfig.n_envs is {B}",
            "train_ppo",
            "build the environment with batch = n_envs",
        )
    obs_buf = torch.empty((T, *obs.shape), dtype=obs.dtype, device=device)
    actions = torch.empty((T, B), dtype=torch.long, device=device)
    logps = torch.empty((T, B), device=device)
    values = torch.empty((T, B), device=device)
    rewards = torch.empty((T, B), device=device)
    terms = torch.empty((T, B), dtype=torch.bool, device=device)
    truncs = torch.empty((T, B), dtype=torch.bool, device=device)
    trunc_values = torch.zeros((T, B), device=device)
    tracker = _EpisodeTracker(B, device)
    history: TrainHistory = []
    env_steps = episodes = 0
    for update in range(1, updates + 1):
        started = time.perf_counter()
        agent.eval()
        with torch.no_grad():
            for t in range(T):
                with autocast():
                    out = agent(obs)
                log_probs = torch.log_softmax(out.logits.float(), dim=-1)  # as Categorical computes it
                action = torch.multinomial(log_probs.exp(), 1, generator=gen)[:, 0]
                obs_buf[t], actions[t], values[t] = obs, action, out.value
                logps[t] = log_probs.gather(1, action[:, None])[:, 0]
                obs, reward, terminated, truncated, info = env.step(action)
                obs = obs.to(device)
                reward = reward.to(device)
                rewards[t] = reward * cfg.reward_scale
                terms[t], truncs[t] = terminated.to(device), truncated.to(device)
                trunc_values[t] = 0.0
                final_obs = info.get("final_obs")
                rows = truncs[t] & ~terms[t]
                if final_obs is not None and bool(rows.any()):
                    with autocast():
                        trunc_values[t, rows] = agent(final_obs.to(device)[rows]).value.float()
                tracker.add(reward, terms[t] | truncs[t], _solved(info, terms[t]))
            with autocast():
                last_value = agent(obs).value.float()
        advantages, returns = compute_gae(
            rewards,
            values,
            last_value,
            terms,
            truncs,
            gamma=cfg.gamma,
            lam=cfg.gae_lambda,
            truncation_values=trunc_values,
        )
        stats = _update(
            agent,
            optimiser,
            cfg,
            gen,
            obs_buf.flatten(0, 1),
            actions.flatten(),
            logps.flatten(),
            advantages.flatten(),
            returns.flatten(),
            values.flatten(),
        )
        env_steps += steps_per_update
        window = tracker.drain()
        episodes += int(window["episodes"])
        entry = {
            "update": float(update),
            "env_steps": float(env_steps),
            **window,
            "episodes": float(episodes),
            "window_episodes": window["episodes"],
            **stats,
            "steps_per_second": steps_per_update / max(time.perf_counter() - started, 1e-9),
        }
        due = update == updates or (eval_every is not None and update % eval_every == 0)
        if eval_fn is not None and due:
            entry.update({f"eval_{key}": float(value) for key, value in eval_fn(agent).items()})
        history.append(entry)
        if metrics is not None:
            metrics(float(env_steps), {k: v for k, v in entry.items() if math.isfinite(v)})
        if progress is not None:
            solved = entry["fraction_solved"]
            message = f"update {update}/{updates}" + ("" if math.isnan(solved) else f", solved {solved:.0%}")
            progress(float(env_steps), float(updates * steps_per_update), message)
        if check_cancelled is not None:
            check_cancelled()
    return history


def _update(
    agent: Agent,
    optimiser: torch.optim.Optimizer,
    cfg: PPOConfig,
    gen: torch.Generator,
    obs: torch.Tensor,
    actions: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor,
) -> dict[str, float]:
    """`epochs` passes of clipped-surrogate PPO over the flattened rollout; the mean loss terms."""
    agent.train()
    n = obs.shape[0]
    # Normalised once over the whole rollout so every minibatch sees the same scale.
    advantages = (advantages - advantages.mean()) / (advantages.std(unbiased=False) + 1e-8)
    sums = torch.zeros(6, device=obs.device)
    count = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=gen, device=obs.device)
        for idx in order.tensor_split(cfg.minibatches):
            with _autocast(obs.device, cfg.precision):
                out = agent(obs[idx])
            dist = Categorical(logits=out.logits.float())
            logp = dist.log_prob(actions[idx])
            log_ratio = logp - old_logps[idx]
            ratio = log_ratio.exp()
            adv = advantages[idx]
            policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv).mean()
            value_loss = 0.5 * F.mse_loss(out.value.float(), returns[idx])
            entropy = dist.entropy().mean()
            loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            optimiser.step()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - log_ratio).mean()  # the k3 estimator, always >= 0
                clipped = ((ratio - 1).abs() > cfg.clip).float().mean()
                sums += torch.stack([loss, policy_loss, value_loss, entropy, approx_kl, clipped]).detach()
            count += 1
    means = (sums / count).tolist()
    explained = 1 - float((returns - old_values).var() / returns.var().clamp_min(1e-8))
    names = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
    return {**dict(zip(names, means, strict=True)), "explained_variance": explained}


def evaluate(
    agent: Agent,
    env: BatchedEnv | Callable[[], BatchedEnv],
    n_episodes: int,
    *,
    greedy: bool = True,
    seed: int = 0,
    max_batched_steps: int = 100_000,
) -> dict[str, float]:
    """fraction_solved, mean_return and mean_length over n_episodes episodes, from a fresh reset().

    `env` is a batched env or a no-argument factory of one. Greedy takes the most likely action; otherwise
    actions are sampled with a generator seeded by `seed`. To avoid favouring short episodes, every env
    contributes its first k = ceil(n_episodes / B) episodes and the first n_episodes of those, in
    (episode index, env) order, are kept.
    """
    if n_episodes < 1:
        raise LanternError(
            f"n_episodes must be at least 1, got {n_episodes}", "evaluate", "evaluate at least one episode"
        )
    if not hasattr(env, "step"):
        env = env()  # type: ignore[operator]
    device = next(agent.parameters()).device
    obs = env.reset().to(device)  # type: ignore[union-attr]
    batch = obs.shape[0]
    k = math.ceil(n_episodes / batch)
    gen = torch.Generator(device=device).manual_seed(seed)
    results = torch.zeros((3, k, batch), device=device)  # return, length, solved
    counts = torch.zeros(batch, dtype=torch.long, device=device)
    ret = torch.zeros(batch, device=device)
    length = torch.zeros(batch, device=device)
    cols = torch.arange(batch, device=device)
    was_training = agent.training
    agent.eval()
    try:
        with torch.no_grad():
            for _ in range(max_batched_steps):
                if bool((counts >= k).all()):
                    break
                logits = agent(obs).logits.float()
                if greedy:
                    action = logits.argmax(dim=-1)
                else:
                    action = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[:, 0]
                obs, reward, terminated, truncated, info = env.step(action)  # type: ignore[union-attr]
                obs = obs.to(device)
                ret += reward.to(device)
                length += 1
                done = (terminated | truncated).to(device)
                keep = done & (counts < k)
                if bool(keep.any()):
                    solved = _solved(info, done).float()
                    slot = counts[keep]
                    for row, value in enumerate((ret, length, solved)):
                        results[row, slot, cols[keep]] = value[keep]
                counts += done.long()
                ret = torch.where(done, 0.0, ret)
                length = torch.where(done, 0.0, length)
            else:
                raise LanternError(
                    f"evaluation did not finish {n_episodes} episodes within {max_batched_steps} "
                    "batched steps",
                    "evaluate",
                    "use an environment with a step limit (truncation) or raise max_batched_steps",
                )
    finally:
        agent.train(was_training)
    kept = results.flatten(1)[:, :n_episodes]
    return {
        "fraction_solved": float(kept[2].mean()),
        "mean_return": float(kept[0].mean()),
        "mean_length": float(kept[1].mean()),
        "episodes": float(n_episodes),
    }
