"""GymGridEnv: B copies of a gymnasium grid environment (MiniGrid or any uint8 RGB-grid env), batched.

It has BatchedBoxWorld's interface, so train_ppo and evaluate drive it unchanged: `reset() -> obs uint8
[B, H, W, 3]`, `step(actions LongTensor[B]) -> (obs, reward float32[B], terminated bool[B], truncated bool[B],
info)` with auto-reset (the observation returned for a finished env is the first of its next episode) and
`info["solved"]` (bool[B]: terminated with a positive reward). When some env was truncated (time limit),
`info["final_obs"]` (uint8 [B, H, W, 3]) holds, on those rows, the observation it was truncated in, so PPO can
bootstrap from it. The B envs are stepped in a Python loop (MiniGrid is pure Python anyway); observations are
assembled in preallocated numpy arrays and leave as one tensor per step. MiniGrid's partial egocentric view,
which FullyObsWrapper discards, is not computed (each env's gen_obs is replaced): stepping DoorKey-5x5 is ~9x
faster (64 envs: 3.2k -> 30k random steps/s on one CPU core).

MiniGrid ids (registered by `import minigrid`): each env is wrapped in minigrid.wrappers.FullyObsWrapper,
whose symbolic grid holds one (object, colour, state) triple per cell, indexed [x, y]. It is transposed to
rows = y and turned into ONE RGB pixel per cell with the fixed palette below, so the relational agent's
entities are the grid's cells exactly as in Box-World (walls included: DoorKey-5x5 gives a 5 x 5 x 3 image).
As in Box-World, the object the agent carries (FullyObsWrapper does not show it) is drawn at pixel (0, 0) --
a corner wall in MiniGrid's walled layouts -- in its own palette colour; with nothing carried that pixel keeps
its cell's colour.

Palette (`MINIGRID_PALETTE[object, colour, state]`). A colour's base RGB is MiniGrid's own (red 255,0,0;
green 0,255,0; blue 0,0,255; purple 112,39,195; yellow 255,255,0; grey 100,100,100); each object blends it
towards white (+) or black (-) by a fixed fraction, so every object keeps its hue and objects differ in
lightness:
  key: base | ball: +0.45 | box: -0.45 | goal: +0.25 | lava: -0.7 | floor tile: +0.88 | wall: -0.8
  door open: +0.7 (pale: passable) | door closed: -0.25 | door locked: -0.6 (dark)
  empty cell: light grey 220,220,220 (Box-World's floor) | unseen: 160,160,160 (never in a full view)
  agent, by direction: right 255,0,255 (magenta), down 0,255,255 (cyan), left 255,136,0 (orange),
  up 255,255,255 (white)
Every (object, colour, state) that MiniGrid can produce maps to a distinct pixel (tests check this).

Other gymnasium ids: a Box(uint8, [H, W, 3]) observation is passed through as it is. Anything else (an
unknown id, another observation space, non-Discrete actions, an env that cannot be built) is a LanternError.

Seeding: env i is reset with seed + i the first time; later resets (auto-resets and further reset() calls)
let each env's own RNG continue, so a run is reproducible from `seed`.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch

from engine.core.errors import LanternError

# MiniGrid's constants, copied so the palette can be built and documented without importing minigrid;
# _check_minigrid_constants() verifies them against the installed package when a MiniGrid env is built.
OBJECTS = ("unseen", "empty", "wall", "floor", "door", "key", "ball", "box", "goal", "lava", "agent")
COLOURS = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "purple": (112, 39, 195),
    "yellow": (255, 255, 0),
    "grey": (100, 100, 100),
}
DOOR_STATES = ("open", "closed", "locked")
DIRECTIONS = ("right", "down", "left", "up")  # MiniGrid's agent_dir 0..3
N_STATES = 4  # state slots per (object, colour): door states 0..2, agent directions 0..3

# fraction blended towards white (> 0) or black (< 0)
_BLEND = {"key": 0.0, "ball": 0.45, "box": -0.45, "goal": 0.25, "lava": -0.7, "floor": 0.88, "wall": -0.8}
_DOOR_BLEND = {"open": 0.7, "closed": -0.25, "locked": -0.6}
EMPTY_RGB = (220, 220, 220)
UNSEEN_RGB = (160, 160, 160)
AGENT_RGB = {"right": (255, 0, 255), "down": (0, 255, 255), "left": (255, 136, 0), "up": (255, 255, 255)}


def _blend(base: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    target = 255.0 if amount > 0 else 0.0
    a = abs(amount)
    return tuple(round(c * (1 - a) + target * a) for c in base)  # type: ignore[return-value]


def _build_palette() -> np.ndarray:
    table = np.zeros((len(OBJECTS), len(COLOURS), N_STATES, 3), np.uint8)
    for o, obj in enumerate(OBJECTS):
        for c, base in enumerate(COLOURS.values()):
            for s in range(N_STATES):
                if obj == "empty":
                    rgb = EMPTY_RGB
                elif obj == "unseen":
                    rgb = UNSEEN_RGB
                elif obj == "agent":
                    rgb = AGENT_RGB[DIRECTIONS[s]]
                elif obj == "door":
                    rgb = _blend(base, _DOOR_BLEND[DOOR_STATES[min(s, 2)]])
                else:
                    rgb = _blend(base, _BLEND[obj])
                table[o, c, s] = rgb
    return table


MINIGRID_PALETTE: np.ndarray = _build_palette()
_FLAT_PALETTE = MINIGRID_PALETTE.reshape(-1, 3)
_AGENT, _RED = OBJECTS.index("agent"), 0


def palette_cell_states() -> list[tuple[str, str | None, str | None]]:
    """Every distinct cell state the palette tells apart: (object, colour or None, door state / agent
    direction or None)."""
    states: list[tuple[str, str | None, str | None]] = [("empty", None, None), ("unseen", None, None)]
    states += [("agent", None, d) for d in DIRECTIONS]
    for obj in OBJECTS:
        for colour in COLOURS:
            if obj == "door":
                states += [(obj, colour, s) for s in DOOR_STATES]
            elif obj in _BLEND:
                states.append((obj, colour, None))
    return states


def palette_rgb(obj: str, colour: str | None = None, state: str | None = None) -> tuple[int, int, int]:
    """The pixel of one cell state named as in palette_cell_states()."""
    o = OBJECTS.index(obj)
    c = list(COLOURS).index(colour) if colour is not None else _RED
    if obj == "door":
        s = DOOR_STATES.index(state or "closed")
    elif obj == "agent":
        s = DIRECTIONS.index(state or "right")
    else:
        s = 0
    return tuple(int(v) for v in MINIGRID_PALETTE[o, c, s])  # type: ignore[return-value]


def minigrid_to_rgb(image: np.ndarray) -> np.ndarray:
    """FullyObsWrapper images uint8 [..., W, H, 3] (indexed [x, y]) -> RGB uint8 [..., H, W, 3] (rows = y)."""
    codes = (image[..., 0].astype(np.intp) * len(COLOURS) + image[..., 1]) * N_STATES + image[..., 2]
    return _FLAT_PALETTE[np.swapaxes(codes, -1, -2)]


def grid_env_ids() -> list[str]:
    """The registered MiniGrid / BabyAI ids (MiniGrid ids first), after `import minigrid` registers them."""
    import minigrid  # noqa: F401  (registers its ids with gymnasium)

    ids = [k for k, spec in gymnasium.registry.items() if str(spec.entry_point).startswith("minigrid")]
    return sorted(ids, key=lambda k: (not k.startswith("MiniGrid-"), k))


def _check_minigrid_constants() -> None:
    from minigrid.core import constants

    if (
        tuple(constants.OBJECT_TO_IDX) != OBJECTS
        or tuple(constants.COLOR_TO_IDX) != tuple(COLOURS)
        or tuple(constants.STATE_TO_IDX) != DOOR_STATES
        or list(constants.OBJECT_TO_IDX.values()) != list(range(len(OBJECTS)))
    ):
        raise LanternError(
            "the installed minigrid encodes cells differently from the palette Lantern knows",
            "engine.rl.grid_env",
            "install minigrid 3.x (pip install 'minigrid>=3,<4')",
        )


class GymGridEnv:
    """B copies of gymnasium env `env_id` with BatchedBoxWorld's interface; see the module docstring."""

    def __init__(
        self,
        env_id: str,
        batch: int,
        device: str | torch.device = "cpu",
        seed: int = 0,
        max_steps: int | None = None,
    ) -> None:
        where = "GymGridEnv"
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise LanternError(
                f"batch must be a whole number of at least 1, got {batch!r}",
                where,
                "pass a positive batch size",
            )
        if max_steps is not None and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
        ):
            raise LanternError(
                f"max_steps must be a whole number of at least 1 or None, got {max_steps!r}",
                f"{where}.max_steps",
                "leave it None for the environment's own limit",
            )
        known = grid_env_ids()
        if env_id not in gymnasium.registry:
            shown = [k for k in known if k.startswith("MiniGrid-")]
            raise LanternError(
                f"environment '{env_id}' does not exist",
                "env id",
                f"known grid envs: {', '.join(shown)} (and the BabyAI-* ids)",
            )
        self.env_id, self.batch, self.device, self.seed = env_id, batch, torch.device(device), seed
        self.is_minigrid = env_id in known
        if self.is_minigrid:
            _check_minigrid_constants()
        self.envs = [self._make(env_id, max_steps) for _ in range(batch)]
        first = self.envs[0]
        actions = first.action_space
        if not isinstance(actions, gymnasium.spaces.Discrete):
            raise LanternError(
                f"environment '{env_id}' has {type(actions).__name__} actions",
                "env id",
                "grid envs need Discrete actions: use a MiniGrid id or a Discrete-action env "
                "with uint8 [H, W, 3] observations",
            )
        self.n_actions = int(actions.n)
        self._action_start = int(actions.start)
        if self.is_minigrid:
            inner = first.unwrapped
            self.obs_shape: tuple[int, int, int] = (int(inner.height), int(inner.width), 3)
            self._images = np.zeros((batch, self.obs_shape[1], self.obs_shape[0], 3), np.uint8)
            self._held = np.zeros(batch, np.intp)  # palette row of the carried object, -1 when none
        else:
            space = first.observation_space
            if not (
                isinstance(space, gymnasium.spaces.Box)
                and space.dtype == np.uint8
                and len(space.shape) == 3
                and space.shape[2] == 3
            ):
                raise LanternError(
                    f"environment '{env_id}' does not have a grid observation (it has {space})",
                    "env id",
                    "use a MiniGrid id (e.g. MiniGrid-DoorKey-5x5-v0) or an env whose observation is "
                    "Box(uint8, [H, W, 3])",
                )
            self.obs_shape = (int(space.shape[0]), int(space.shape[1]), 3)
            self._images = np.zeros((batch, *self.obs_shape), np.uint8)
        self._seeded = False
        self._reward = np.zeros(batch, np.float32)
        self._terminated = np.zeros(batch, bool)
        self._truncated = np.zeros(batch, bool)

    def _make(self, env_id: str, max_steps: int | None) -> Any:
        try:
            if self.is_minigrid:
                from minigrid.wrappers import FullyObsWrapper

                kwargs = {} if max_steps is None else {"max_steps": max_steps}
                env = gymnasium.make(env_id, disable_env_checker=True, **kwargs)
                inner = env.unwrapped
                # MiniGrid builds the agent's partial egocentric view on every step and reset (about 80% of
                # a step's time); FullyObsWrapper replaces that image, so this env skips building it.
                inner.gen_obs = lambda: {
                    "image": None,
                    "direction": inner.agent_dir,
                    "mission": inner.mission,
                }
                return FullyObsWrapper(env)
            return gymnasium.make(env_id, max_episode_steps=max_steps, disable_env_checker=True)
        except LanternError:
            raise
        except Exception as exc:  # gymnasium raises many kinds (missing dependency, bad kwargs, ...)
            raise LanternError(
                f"environment '{env_id}' could not be built: {exc}",
                "env id",
                "use a MiniGrid id (e.g. MiniGrid-DoorKey-5x5-v0) or install what the environment needs",
            ) from exc

    def _store(self, i: int, obs: Any) -> None:
        if self.is_minigrid:
            self._images[i] = obs["image"]
            carried = self.envs[i].unwrapped.carrying
            self._held[i] = (
                -1
                if carried is None
                else int(np.ravel_multi_index(carried.encode(), (len(OBJECTS), len(COLOURS), N_STATES)))
            )
        else:
            self._images[i] = obs

    def _observe(self, images: np.ndarray, held: np.ndarray | None) -> np.ndarray:
        if not self.is_minigrid:
            return images.copy()
        rgb = minigrid_to_rgb(images)
        if held is not None:
            rows = held >= 0
            rgb[rows, 0, 0] = _FLAT_PALETTE[held[rows]]
        return rgb

    def convert(self, i: int, obs: Any) -> np.ndarray:
        """Env i's RGB frame uint8 [H, W, 3] from `obs`, the observation its gymnasium env (self.envs[i])
        just returned, with the carried object at (0, 0) for MiniGrid; for callers that step one env
        themselves (no auto-reset). It also becomes env i's current observation here."""
        self._store(i, obs)
        return self._observe(self._images[i : i + 1], self._held[i : i + 1] if self.is_minigrid else None)[0]

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device)

    def reset(self) -> torch.Tensor:
        """Start a new episode in every env; the first call seeds env i with seed + i."""
        for i, env in enumerate(self.envs):
            try:
                obs, _ = env.reset(seed=None if self._seeded else self.seed + i)
            except Exception as exc:  # e.g. an env whose data files are missing fails only here
                raise LanternError(
                    f"environment '{self.env_id}' could not be reset: {exc}",
                    "env id",
                    "use another environment id, or reinstall the package that provides it",
                ) from exc
            self._store(i, obs)
        self._seeded = True
        return self._tensor(self._observe(self._images, self._held if self.is_minigrid else None))

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Apply one action per env (LongTensor [B]); returns (obs, reward, terminated, truncated, info)."""
        if not self._seeded:
            self.reset()
        acts = actions.detach().to("cpu", torch.long).numpy()
        if acts.shape != (self.batch,):
            raise LanternError(
                f"step got actions of shape {tuple(acts.shape)} for a batch of {self.batch}",
                "GymGridEnv.step",
                "pass one action per env (LongTensor [B])",
            )
        if (acts < 0).any() or (acts >= self.n_actions).any():
            raise LanternError(
                f"actions must lie in [0, {self.n_actions}), got {acts.tolist()}",
                "GymGridEnv.step",
                f"'{self.env_id}' has {self.n_actions} actions",
            )
        final: np.ndarray | None = None
        final_held: np.ndarray | None = None
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, _ = env.step(int(acts[i]) + self._action_start)
            self._reward[i], self._terminated[i] = reward, terminated
            self._truncated[i] = truncated and not terminated
            if terminated or truncated:
                if self._truncated[i]:
                    if final is None:
                        final = np.zeros_like(self._images)
                        final_held = np.full(self.batch, -1, np.intp) if self.is_minigrid else None
                    self._store(i, obs)
                    final[i] = self._images[i]
                    if final_held is not None:
                        final_held[i] = self._held[i]
                obs, _ = env.reset()
            self._store(i, obs)
        info = {"solved": torch.from_numpy(self._terminated & (self._reward > 0)).to(self.device)}
        if final is not None:
            info["final_obs"] = self._tensor(self._observe(final, final_held))
        return (
            self._tensor(self._observe(self._images, self._held if self.is_minigrid else None)),
            torch.from_numpy(self._reward.copy()).to(self.device),
            torch.from_numpy(self._terminated.copy()).to(self.device),
            torch.from_numpy(self._truncated.copy()).to(self.device),
            info,
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()
