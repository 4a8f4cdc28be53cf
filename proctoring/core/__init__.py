"""The frame's vocabulary, shared by every stage: the WebSocket protocol (message types, error
and close codes), the exception tree, a frame and its envelope as validated off the wire, the
hints shown to exam takers, the channel-layer events, the socket access checks, and the evidence
clock (which capture time a frame is recorded at).

Imports nothing of the other packages: everything else may import it."""
