"""The one input policy: synthetic and sample inputs, images, presets, what was fed."""
