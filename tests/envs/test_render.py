"""rgb_array rendering: shape, dtype and what is drawn where."""

import jax
import numpy as np
import pytest

from pinfer.envs import (
    GEM_COLORS,
    KEY_RGB,
    make_gridworld,
    make_gridworld_batch,
    render_grid,
)

TEXT = "S.rR\n#.G."


def centre(image, row, col, cell_size):
    return tuple(
        image[row * cell_size + cell_size // 2, col * cell_size + cell_size // 2]
    )


def test_shape_dtype_and_contents():
    env, params = make_gridworld(TEXT)
    _, state = env.reset(jax.random.key(0), params)
    image = env.render(state, params, cell_size=10)
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    assert centre(image, 0, 0, 10) == (25, 25, 25)  # the agent
    assert centre(image, 1, 0, 10) == (60, 60, 66)  # a wall
    assert centre(image, 1, 2, 10) == GEM_COLORS[0]  # goal 0
    assert (image[:10, 20:30] == KEY_RGB[0]).all(-1).any()  # the red key
    assert centre(image, 0, 3, 10) != (245, 245, 240)  # a closed door is filled
    # Holding the red key: the key is gone and the door is drawn open.
    held = render_grid(params, cell=1, inventory=1, cell_size=10)
    assert not (held[:10, 20:30] == KEY_RGB[0]).all(-1).any()
    assert centre(held, 0, 3, 10) == (245, 245, 240)
    # Without an agent, its cell is plain floor.
    assert centre(render_grid(params, cell_size=10), 0, 0, 10) == (245, 245, 240)


def test_render_rejects_batches_and_tiny_cells():
    _, batch = make_gridworld_batch([TEXT, TEXT])
    with pytest.raises(ValueError, match=r"`params` must hold one layout.*\(2, 2, 4\)"):
        render_grid(batch)
    _, params = make_gridworld(TEXT)
    with pytest.raises(ValueError, match="`cell_size` must be an int >= 4, got 2"):
        render_grid(params, cell_size=2)
