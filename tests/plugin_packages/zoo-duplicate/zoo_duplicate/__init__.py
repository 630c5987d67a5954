"""A plugin that registers a name zoo-torch already owns, plus one of its own."""

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register):
    register(ModelSpec(name="alexnet-torch-bn", backend="torch", family="alexnet", builder="zoo_duplicate:x"))
    register(ModelSpec(name="duplicate-own-torch", backend="torch", family="dup", builder="zoo_duplicate:x"))
