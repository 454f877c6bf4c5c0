"""Faces: find, align and identify, the pipeline behind Who am I? and the Predict page's face mode.

- ``detect``: MTCNN detection (box, confidence, five landmarks) and alignment (eyes level,
  cut out at the CNN's input size).
- ``enrol``: named identities filled with aligned crops, kept in memory only, and recognition:
  the CNN names the most probable person, ``openset`` says whether it is anyone enrolled.
- ``openset``: face embeddings, the distance to the nearest enrolled face and a threshold
  calibrated on the enrolled faces, so that a stranger comes out as "unknown".
- ``cli``: ``python -m core.faces IMAGE`` prints the faces of a photo as JSON.
"""
