"""The kubernetes runtime's own vocabulary, shared by its renderers (generator/render/kubernetes*.py), its
check and the CLI: resource names and labels, the stack's Secret and its keys, the in-cluster view of a
stack, the vendored schemas and their validation, and the unpacking of rendered resources into the
output tree the checks read. Pure, like the renderers: nothing here talks to a cluster.
"""
