"""The pure detection core: gray frames and timestamps in, fault state changes out.

Nothing in this package opens a file, a socket or reads a clock, so that the edge agent,
`lenswatch analyze` and the tests run the very same code on the very same inputs.
"""
