"""Arrays to pictures: what the pages draw, built without Streamlit.

- ``tiles``: weights, feature maps and images as tiled RGB pictures (colour maps, grids, enlargement).
- ``filter_sheet``: a conv layer's filters as labelled blocks that wrap to the width they are shown at.
- ``figures``: every Plotly figure the pages show (probabilities, training curves, heatmaps,
  confusion matrix, class counts, embeddings...), from plain arrays and lists.
"""
