"""A plugin whose model hook registers one model, then raises."""

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register):
    register(
        ModelSpec(name="half-registered-torch", backend="torch", family="half", builder="zoo_broken_hook:nothing")
    )
    raise ValueError("zoo-broken-hook failed inside its hook")
