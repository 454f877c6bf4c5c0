"""Faces: find, align and identify, the pipeline behind Who am I? and the Predict page's face mode.

- ``detect``: MTCNN detection (box, confidence, five landmarks) and alignment (eyes level,
  cut out at the CNN's input size).
- ``enrol``: named identities filled with aligned crops, kept in memory only, and recognition
  with an "unknown" threshold.
- ``cli``: ``python -m core.faces IMAGE`` prints the faces of a photo as JSON.
"""
