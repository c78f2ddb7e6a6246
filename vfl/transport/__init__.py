"""Carries typed messages between parties. Protocol code sees only :class:`Channel`."""

from vfl.transport.channel import Channel, ChannelStats
from vfl.transport.memory import MemoryHub
from vfl.transport.recording import RecordedMessage, RecordingChannel

__all__ = ["Channel", "ChannelStats", "MemoryHub", "RecordedMessage", "RecordingChannel"]
