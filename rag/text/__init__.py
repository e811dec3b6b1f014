"""Text primitives shared by every stage: tokens and stems."""
