"""What a build and its site will cost before they run (`atlas plan`), and the site
budget that chooses dataset examples to fit."""
