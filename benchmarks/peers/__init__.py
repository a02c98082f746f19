"""Peer potentials fitted to the same teacher-labelled training split as the students."""
