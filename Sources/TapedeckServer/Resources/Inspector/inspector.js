document.querySelectorAll('input[data-filter]').forEach(function (box) {
  box.addEventListener('input', function () {
    var needle = box.value.toLowerCase();
    document.querySelectorAll(box.dataset.filter).forEach(function (row) {
      row.hidden = needle !== '' && row.textContent.toLowerCase().indexOf(needle) === -1;
    });
  });
});
